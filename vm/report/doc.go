// Package report reads the Ginkgo JSON reports that the suites write in the
// guest and turns them into per-spec results and a summary for the host.
package report
