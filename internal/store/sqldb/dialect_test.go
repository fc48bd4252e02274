package sqldb

import "testing"

func TestDollarPlaceholders(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE id = ? AND b = ?", "SELECT a FROM t WHERE id = $1 AND b = $2"},
		{"SELECT '?', ? FROM t WHERE x = 'it''s ?' AND y = ?", "SELECT '?', $1 FROM t WHERE x = 'it''s ?' AND y = $2"},
		{`SELECT "we?ird" FROM t WHERE v = ?`, `SELECT "we?ird" FROM t WHERE v = $1`},
	}
	for _, tc := range tests {
		if got := dollarPlaceholders(tc.in); got != tc.want {
			t.Errorf("dollarPlaceholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	dl := &Dialect{Dollar: true}
	if got := dl.rebind("x = ?"); got != "x = $1" || dl.rebind("x = ?") != got {
		t.Errorf("rebind = %q", got)
	}
}
