// Package gcov turns the gcov data that a debug kernel's guest brings back
// for the cnlab module into its line and function coverage, and an HTML
// report (lcov and genhtml).
package gcov
