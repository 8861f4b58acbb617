package scenariotest

import "fmt"

// A Recorder is a rapid.TB that keeps what rapid reports instead of
// failing the test: for searches that expect rapid to find (and shrink) a
// failing case, such as the hang search and the conformance search.
type Recorder struct {
	// Label is what Name reports.
	Label string
	// Lines is what rapid logged; Fails is whether it failed.
	Lines []string
	Fails bool
}

func (r *Recorder) Helper()      {}
func (r *Recorder) Name() string { return r.Label }
func (r *Recorder) Logf(format string, a ...any) {
	r.Lines = append(r.Lines, fmt.Sprintf(format, a...))
}
func (r *Recorder) Log(a ...any)                  { r.Lines = append(r.Lines, fmt.Sprint(a...)) }
func (r *Recorder) Skipf(format string, a ...any) { r.Logf(format, a...) }
func (r *Recorder) Skip(a ...any)                 { r.Log(a...) }
func (r *Recorder) SkipNow()                      {}
func (r *Recorder) Errorf(format string, a ...any) {
	r.Fails = true
	r.Logf(format, a...)
}
func (r *Recorder) Error(a ...any)                 { r.Fails = true; r.Log(a...) }
func (r *Recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...) }
func (r *Recorder) Fatal(a ...any)                 { r.Error(a...) }
func (r *Recorder) FailNow()                       { r.Fails = true }
func (r *Recorder) Fail()                          { r.Fails = true }
func (r *Recorder) Failed() bool                   { return r.Fails }
