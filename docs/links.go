package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// link is one markdown link [text](target) found in a file.
type link struct {
	line   int    // 1-based
	text   string // between the brackets
	path   string // before '#', "" for the file itself
	anchor string // after '#', "" for none
}

func (l link) String() string {
	t := l.path
	if l.anchor != "" {
		t += "#" + l.anchor
	}
	return fmt.Sprintf("[%s](%s)", l.text, t)
}

var (
	// linkRE matches [text](target) and [text](target "title"); images
	// (![alt](src)) match too, as their files must exist as well.
	linkRE = regexp.MustCompile(`\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// codeSpanRE matches an inline code span, whose text is no link.
	codeSpanRE = regexp.MustCompile("`+[^`]*`+")
	// headingRE matches an ATX heading and captures its text.
	headingRE = regexp.MustCompile(`^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	// schemeRE matches a target that is not a path in the tree.
	schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// lines calls fn for each line of md outside fenced code blocks, with its
// 1-based number.
func lines(md string, fn func(n int, line string)) {
	fence := ""
	for i, line := range strings.Split(md, "\n") {
		t := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]+" \t") == "" {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		fn(i+1, line)
	}
}

// parseLinks returns the relative links of a markdown text: those with no
// URL scheme (http:, mailto: ...), outside code blocks and code spans.
func parseLinks(md string) []link {
	var links []link
	lines(md, func(n int, line string) {
		line = codeSpanRE.ReplaceAllString(line, "")
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			target := m[2]
			if schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			links = append(links, link{line: n, text: m[1], path: path, anchor: anchor})
		}
	})
	return links
}

// slug returns GitHub's anchor for a heading's text: inline markup and
// links reduced to their text, lower case, every character that is not a
// letter, digit, space, hyphen or underscore dropped, spaces as hyphens.
func slug(heading string) string {
	heading = linkRE.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a markdown text's headings, a repeated
// slug numbered as GitHub numbers it (-1, -2 ...).
func anchors(md string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	lines(md, func(_ int, line string) {
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := slug(m[1])
		if k := seen[s]; k > 0 {
			seen[s]++
			s = fmt.Sprintf("%s-%d", s, k)
		} else {
			seen[s] = 1
		}
		out[s] = true
	})
	return out
}

// checkFile returns one error for each dead relative link of the markdown
// file at path (relative to root): a target that is not in the tree under
// root, or an anchor that no heading of the target has.
func checkFile(root, path string) ([]error, error) {
	md, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var errs []error
	for _, l := range parseLinks(string(md)) {
		target := path
		if l.path != "" {
			target = filepath.Join(filepath.Dir(path), filepath.FromSlash(l.path))
		}
		if target == ".." || strings.HasPrefix(target, ".."+string(filepath.Separator)) {
			errs = append(errs, fmt.Errorf("%s:%d: %v: %s is outside the tree", path, l.line, l, target))
			continue
		}
		fi, err := os.Stat(filepath.Join(root, target))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v: %s does not exist", path, l.line, l, target))
			continue
		}
		if l.anchor == "" {
			continue
		}
		if fi.IsDir() || !strings.HasSuffix(target, ".md") {
			errs = append(errs, fmt.Errorf("%s:%d: %v: #%s, but %s is not a markdown file", path, l.line, l, l.anchor, target))
			continue
		}
		tmd, err := os.ReadFile(filepath.Join(root, target))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", target, err)
		}
		if !anchors(string(tmd))[l.anchor] {
			errs = append(errs, fmt.Errorf("%s:%d: %v: no heading of %s has the anchor #%s", path, l.line, l, target, l.anchor))
		}
	}
	return errs, nil
}
