package httpapi

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrandCSS: brand.css gives any brand colour a text colour that reads on it at
// WCAG AA (4.5:1) at least, and the colour as #rrggbb.
func TestBrandCSS(t *testing.T) {
	for _, c := range []string{"#000", "#fff", "#ffdd00", "#0a7d33", "#1d4ed8", "#777777", "#e11d48", "#22d3ee", "#767676", "#808080"} {
		th := &theme{brand: Brand{Color: c}}
		css := th.brandCSS()
		r, g, b := hexRGB(c)
		if !strings.Contains(css, fmt.Sprintf("--brand: #%02x%02x%02x;", r, g, b)) {
			t.Errorf("%s: %s", c, css)
		}
		var tr, tg, tb int
		if strings.Contains(css, "--brand-text: #ffffff") {
			tr, tg, tb = 0xff, 0xff, 0xff
		} else {
			tr, tg, tb = 0, 0, 0
		}
		if ratio := contrast(r, g, b, tr, tg, tb); ratio < 4.5 {
			t.Errorf("%s: text contrast %.2f, want at least 4.5", c, ratio)
		}
	}
	if css := (&theme{}).brandCSS(); strings.Contains(css, "--brand") && !strings.HasPrefix(css, "/*") {
		t.Errorf("no brand colour: %s", css)
	}
}
