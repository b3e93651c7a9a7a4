// Package runner runs cnlab's job (the e2e suites, the benchmark, or
// commands of the user's) on one kernel or a matrix of them: it checks the
// options and each kernel before anything is built, builds the module and
// the guest's programs, boots each kernel with package vm, settles each
// run's verdict and exit code, and writes the results (KTAP, JUnit,
// summary.json) and, when asked, a bundle that replays the run.
//
// Command cnlab-vm is its flags; CI integrations call Run with Options.
package runner
