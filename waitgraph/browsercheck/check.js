// Measures the labels of the SVG in #pic as the browser laid them out and
// writes a JSON report into #report: problems lists every label that is
// too small to read, overlaps another, leaves its box, covers a node, or
// leaves the picture.
(function () {
  const tol = 0.5; // px
  const out = { texts: 0, width: 0, height: 0, problems: [] };
  const svg = document.querySelector('#pic svg');
  const pic = svg.getBoundingClientRect();
  out.width = Math.ceil(pic.right);
  out.height = Math.ceil(pic.bottom);
  const rect = (el) => {
    const b = el.getBoundingClientRect();
    return { l: b.left, t: b.top, r: b.right, b: b.bottom };
  };
  // A label's box: its advance width as laid out, and, vertically, its
  // ink: from cap height above the baseline to the descent below. The
  // font's full line box (ascent to descent, 1.15 em) would make stacked
  // lines overlap by design.
  const ink = (t) => {
    const b = t.getBoundingClientRect();
    const m = t.getScreenCTM();
    const px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    const pt = svg.createSVGPoint();
    pt.x = t.x.baseVal.length ? t.x.baseVal[0].value : 0;
    pt.y = t.y.baseVal.length ? t.y.baseVal[0].value : 0;
    const base = pt.matrixTransform(m).y;
    return { l: b.left, r: b.right, t: base - 0.72 * px, b: base + 0.22 * px, px: px };
  };
  const meets = (a, b) =>
    Math.min(a.r, b.r) - Math.max(a.l, b.l) > tol && Math.min(a.b, b.b) - Math.max(a.t, b.t) > tol;
  const inside = (a, s) => a.l >= s.l - tol && a.r <= s.r + tol && a.t >= s.t - tol && a.b <= s.b + tol;
  const texts = Array.from(svg.querySelectorAll('text')).filter((t) => t.textContent.trim() !== '');
  const name = (t) => JSON.stringify(t.textContent.trim());
  const boxes = texts.map(ink);
  out.texts = texts.length;
  texts.forEach((t, i) => {
    const b = boxes[i];
    if (b.px < 11) out.problems.push('too small (' + b.px.toFixed(1) + ' px): ' + name(t));
    if (b.r - b.l < 1) out.problems.push('not drawn: ' + name(t));
    if (!inside(b, rect(svg))) out.problems.push('outside the picture: ' + name(t));
    for (let j = i + 1; j < texts.length; j++) {
      if (meets(b, boxes[j])) out.problems.push('overlap: ' + name(t) + ' and ' + name(texts[j]));
    }
  });
  // Labels stay in their own box: a node, a cluster, a matrix cell or heading.
  const shapeOf = (g) => g.querySelector('polygon, path, rect, ellipse');
  svg.querySelectorAll('g.node, g.cluster, g.cell, g.column, g.group').forEach((g) => {
    const s = rect(shapeOf(g));
    g.querySelectorAll('text').forEach((t) => {
      if (t.textContent.trim() !== '' && !inside(ink(t), s)) out.problems.push('leaves its box: ' + name(t));
    });
  });
  // Labels outside a node (edge labels, headings) do not cover a node.
  const nodes = Array.from(svg.querySelectorAll('g.node')).map((g) => rect(shapeOf(g)));
  texts.forEach((t, i) => {
    if (t.closest('g.node')) return;
    if (nodes.some((s) => meets(boxes[i], s))) out.problems.push('covers a node: ' + name(t));
  });
  document.getElementById('report').textContent = JSON.stringify(out);
})();
