// Package docs holds cnlab's documentation checks: TestLinks fails when a
// relative link in README.md or docs/*.md names a file that is not in the
// tree, or an #anchor that no heading of its target file has (GitHub's
// slugs: lower case, punctuation dropped, spaces as hyphens, -1, -2 ... for
// repeats). make lint runs it (make lint-docs).
package docs
