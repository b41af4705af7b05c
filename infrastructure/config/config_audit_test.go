package config

import (
	"errors"
	"testing"
	"time"
)

func TestAuditRetention(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil || c.AuditRetention != 2160*time.Hour {
		t.Fatalf("default audit retention %s (%v), want 2160h", c.AuditRetention, err)
	}
	for v, want := range map[string]time.Duration{"1h": time.Hour, "8760h": 8760 * time.Hour, "59m": 0, "0s": 0, "-1h": 0, "forever": 0} {
		c, err := Load("", envOf(map[string]string{"GATEHOUSE_AUDIT_RETENTION": v}))
		var ce *Error
		switch {
		case want != 0 && (err != nil || c.AuditRetention != want):
			t.Errorf("GATEHOUSE_AUDIT_RETENTION=%s: %s, %v; want %s", v, c.AuditRetention, err, want)
		case want == 0 && (!errors.As(err, &ce) || ce.Variable != "GATEHOUSE_AUDIT_RETENTION"):
			t.Errorf("GATEHOUSE_AUDIT_RETENTION=%s: %v, want an error naming the variable", v, err)
		}
	}
}
