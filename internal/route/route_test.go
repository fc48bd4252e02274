package route

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
	}{
		{"101", KindExtension}, {"10", KindExtension}, {"12345678", KindExtension},
		{"+14155551234", KindE164}, {"+442071234567", KindE164},
		{"*43", KindFeatureCode}, {"#1", KindFeatureCode}, {"*72*105#", KindFeatureCode},
		{"123456789", KindNational}, {"02071234567", KindNational}, {"011442071234567", KindNational},
		{"", KindUnknown}, {"1", KindUnknown}, {"12345678901234567890", KindUnknown}, {"0011442071234567", KindNational}, {"+0123456789", KindUnknown},
		{"+1415", KindUnknown}, {"bob", KindUnknown}, {"sip:101@host", KindUnknown},
		{"101\r\nVia: x", KindUnknown}, {"101;tag=x", KindUnknown}, {" 101", KindUnknown},
		{"+1415555\x001234", KindUnknown}, {"*", KindUnknown}, {"101@evil", KindUnknown},
		{"0207123\n4567", KindUnknown}, {"02071234567;user=phone", KindUnknown}, {"１０１", KindUnknown},
		{"٠٢٠٧١٢٣٤٥٦٧", KindUnknown}, {"+44 20 7123 4567", KindUnknown}, {"101\r", KindUnknown},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if tt.kind == KindUnknown {
			require.ErrorIs(t, err, ErrInvalidDestination, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		require.Equal(t, tt.kind, d.Kind, "%q", tt.in)
		require.Equal(t, tt.in, d.Number)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindUnknown: "unknown", KindExtension: "extension", KindE164: "e164", KindFeatureCode: "feature_code",
		KindNational: "national", KindEmergency: "emergency", Kind(99): "unknown",
	} {
		require.Equal(t, want, k.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"101", "+14155551234", "*43", "a\r\nb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		for _, r := range d.Number {
			if !(r >= '0' && r <= '9') && r != '+' && r != '*' && r != '#' {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func TestOrderTrunks(t *testing.T) {
	trunks := []TrunkInfo{
		{Name: "any", Priority: 5},
		{Name: "us", Prefixes: []string{"+1"}, Priority: 9},
		{Name: "nyc", Prefixes: []string{"+1212"}, Priority: 9},
		{Name: "cheap", Priority: 1},
		{Name: "uk", Prefixes: []string{"+44"}},
		{Name: "", Priority: 0}, // unnamed: never used
		{Name: "any2", Priority: 5},
	}
	names := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, trunks[i].Name)
		}
		return out
	}
	for _, tc := range []struct {
		num, first string
		want       []string
	}{
		{"+12125550100", "", []string{"nyc", "us", "cheap", "any", "any2"}},
		{"+14155550100", "", []string{"us", "cheap", "any", "any2"}},
		{"+442071234567", "", []string{"uk", "cheap", "any", "any2"}},
		{"+33123456789", "", []string{"cheap", "any", "any2"}},
		{"", "", []string{"uk", "cheap", "any", "any2", "us", "nyc"}},           // emergency: every trunk, by priority
		{"", "NYC", []string{"nyc", "uk", "cheap", "any", "any2", "us"}},        // the named trunk first
		{"", "gone", []string{"uk", "cheap", "any", "any2", "us", "nyc"}},       // a stale name changes nothing
		{"+12125550100", "any2", []string{"any2", "nyc", "us", "cheap", "any"}}, // first, then prefixes
	} {
		require.Equal(t, tc.want, names(OrderTrunks(trunks, tc.num, tc.first)), "%q first %q", tc.num, tc.first)
	}
}
