package route

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestNormalise(t *testing.T) {
	tests := []struct {
		country string
		in      string
		want    string // E.164 unless kind says otherwise; "" = error
		kind    Kind
		errHas  string
	}{
		// NANP: 10 digits, the trunk prefix 1 optional, 011 international.
		{country: "US", in: "4155550100", want: "+14155550100"},
		{country: "US", in: "14155550100", want: "+14155550100"},
		{country: "US", in: "011442071234567", want: "+442071234567"},
		{country: "US", in: "01133612345678", want: "+33612345678"},
		{country: "CA", in: "6135550100", want: "+16135550100"},
		{country: "US", in: "1415555010", errHas: "10 digits after the trunk prefix 1"},
		{country: "US", in: "0415555010", errHas: "area codes in US start with 2 to 9"},
		{country: "US", in: "415555010012", errHas: "10 digits"},
		{country: "US", in: "011012345678", errHas: "not a valid international number"},
		{country: "US", in: "011123456789012345", want: "+123456789012345"},
		{country: "US", in: "0111234567890123456", errHas: "not a valid international number"},
		{country: "US", in: "4155550100123456", errHas: "10 digits"},
		// Trunk prefix 0, international 00.
		{country: "GB", in: "02071234567", want: "+442071234567"},
		{country: "GB", in: "07700900123", want: "+447700900123"},
		{country: "GB", in: "00442071234567", want: "+442071234567"},
		{country: "GB", in: "001415555010", want: "+1415555010"},
		{country: "GB", in: "2071234567", errHas: "trunk prefix 0 (or 00"},
		{country: "GB", in: "000123456789", errHas: "not a valid international number"},
		{country: "DE", in: "030123456789", want: "+4930123456789"},
		{country: "DE", in: "0049301234567", want: "+49301234567"},
		{country: "FR", in: "0612345678", want: "+33612345678"},
		{country: "FR", in: "06123456789", errHas: "9 digits after the trunk prefix 0"},
		{country: "NL", in: "0201234567", want: "+31201234567"},
		{country: "IE", in: "0871234567", want: "+353871234567"},
		{country: "CH", in: "0441234567", want: "+41441234567"},
		{country: "SE", in: "0812345678", want: "+46812345678"},
		{country: "BE", in: "022345678", want: "+3222345678"},
		{country: "AU", in: "0212345678", want: "+61212345678"},
		{country: "AU", in: "0011442071234567", want: "+442071234567"},
		{country: "AU", in: "0012345678", errHas: "not a number in AU"},
		{country: "JP", in: "0312345678", want: "+81312345678"},
		{country: "JP", in: "010442071234567", want: "+442071234567"},
		// No trunk prefix.
		{country: "ES", in: "912345678", want: "+34912345678"},
		{country: "ES", in: "0034912345678", want: "+34912345678"},
		{country: "ES", in: "9123456789", errHas: "numbers in ES have 9 digits"},
		{country: "IT", in: "0612345678", want: "+390612345678"},
		{country: "IT", in: "3123456789", want: "+393123456789"},
		{country: "MX", in: "5512345678", want: "+525512345678"},
		// Trunk prefix optional.
		{country: "IN", in: "09876543210", want: "+919876543210"},
		{country: "IN", in: "9876543210", want: "+919876543210"},
		// Unknown country, no country, the wrong case.
		{country: "", in: "02071234567", errHas: "has no country"},
		{country: "XX", in: "02071234567", errHas: `country "XX" is not one`},
		{country: "gb", in: "02071234567", errHas: "is not one"},
		// Other kinds pass through; the plan's extension length applies.
		{country: "GB", in: "+14155550100", want: "+14155550100"},
		{country: "", in: "+14155550100", want: "+14155550100"},
		{country: "GB", in: "*43", want: "*43", kind: KindFeatureCode},
		{country: "GB", in: "101", want: "101", kind: KindExtension},
		{country: "GB", in: "10", errHas: "has 2 digits, but this account's extensions have 3"},
		{country: "GB", in: "1001", errHas: "have 3"},
		{country: "GB", in: "999", want: "999", kind: KindEmergency},
		{country: "GB", in: "112", want: "112", kind: KindEmergency},
		// Injection and lookalikes.
		{country: "GB", in: "", errHas: "is not an extension"},
		{country: "GB", in: "0207123\r\n4567", errHas: `\r\n`},
		{country: "GB", in: "02071234567\r\nVia: x", errHas: "is not"},
		{country: "GB", in: "02071234567;user=phone", errHas: "is not"},
		{country: "GB", in: "02071234567@evil.example", errHas: "is not"},
		{country: "GB", in: "０２０７１２３４５６７", errHas: "is not"},
		{country: "GB", in: "٠٢٠٧١٢٣٤٥٦٧", errHas: "is not"},
		{country: "GB", in: " 02071234567", errHas: "is not"},
		{country: "GB", in: "+44 20 7123 4567", errHas: "is not"},
		{country: "GB", in: "9\x0099", errHas: "is not"},
		{country: "GB", in: "02071234567890123456", errHas: "is not"}, // 20 digits
		{country: "DE", in: "0301234567890123", errHas: "6 to 13 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.country+"/"+tt.in, func(t *testing.T) {
			plan := &store.DialPlan{Country: tt.country, ExtensionLength: 3, EmergencyNumbers: []string{"999", "112"}}
			d, err := Normalise(tt.in, plan)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrInvalidDestination)
				require.ErrorContains(t, err, tt.errHas)
				require.Equal(t, Destination{}, d)
				return
			}
			require.NoError(t, err)
			kind := tt.kind
			if kind == KindUnknown {
				kind = KindE164
			}
			require.Equal(t, Destination{Kind: kind, Number: tt.want}, d)
		})
	}
}

func TestNormaliseEmergencyNumbers(t *testing.T) {
	// A stored emergency number that is not plain digits is never sent as
	// dialled: the dial string falls through to the grammar.
	plan := &store.DialPlan{Country: "US", EmergencyNumbers: []string{"911\r\n", "*911", "911", "9"}}
	_, err := Normalise("911\r\n", plan)
	require.ErrorIs(t, err, ErrInvalidDestination)
	d, err := Normalise("*911", plan)
	require.NoError(t, err)
	require.Equal(t, KindFeatureCode, d.Kind)
	d, err = Normalise("911", plan)
	require.NoError(t, err)
	require.Equal(t, Destination{Kind: KindEmergency, Number: "911"}, d)

	// Emergency numbers win over the extension length and extensions.
	plan = &store.DialPlan{Country: "GB", ExtensionLength: 4, EmergencyNumbers: []string{"999"}}
	d, err = Normalise("999", plan)
	require.NoError(t, err)
	require.Equal(t, KindEmergency, d.Kind)

	// A nil plan is the default one.
	d, err = Normalise("911", nil)
	require.NoError(t, err)
	require.Equal(t, KindEmergency, d.Kind)
	d, err = Normalise("4155550100", nil)
	require.NoError(t, err)
	require.Equal(t, "+14155550100", d.Number)
}

func TestKnownCountry(t *testing.T) {
	for _, c := range []string{"US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "AU", "IN", "IE", "CH", "SE"} {
		require.True(t, KnownCountry(c), c)
		require.Contains(t, KnownCountries(), c)
	}
	for _, c := range []string{"", "us", "XX", "USA", "U"} {
		require.False(t, KnownCountry(c), c)
	}
	require.IsIncreasing(t, KnownCountries())
	// Every country's numbers fit E.164 and its prefixes are digits.
	for code, c := range countries {
		require.LessOrEqual(t, len(c.code)+c.max, 15, code)
		require.LessOrEqual(t, c.min, c.max, code)
		require.NotEmpty(t, c.intl, code)
		require.True(t, c.nanp == (c.code == "1"), code)
	}
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"4155550100", "14155550100", "011442071234567", "02071234567", "911", "*43", "101", "+14155550100", "a\r\nb", ""} {
		for _, c := range []string{"US", "GB", "IT", "IN", ""} {
			f.Add(s, c, uint8(0), false)
		}
	}
	f.Fuzz(func(t *testing.T, dialled, country string, extLen uint8, emergency bool) {
		plan := &store.DialPlan{Country: country, ExtensionLength: int(extLen % 10), EmergencyNumbers: []string{"911", "112"}}
		if emergency {
			plan.EmergencyNumbers = append(plan.EmergencyNumbers, dialled)
		}
		d, err := Normalise(dialled, plan)
		if err != nil {
			if !errors.Is(err, ErrInvalidDestination) {
				t.Fatalf("Normalise(%q, %q): error %v does not wrap ErrInvalidDestination", dialled, country, err)
			}
			return
		}
		var ok bool
		switch d.Kind {
		case KindE164:
			ok = ValidE164(d.Number)
		case KindExtension:
			ok = extensionRe.MatchString(d.Number) && (plan.ExtensionLength == 0 || len(d.Number) == plan.ExtensionLength)
		case KindFeatureCode:
			ok = featureRe.MatchString(d.Number)
		case KindEmergency:
			ok = emergencyRe.MatchString(d.Number) && d.Number == dialled
		}
		if !ok {
			t.Fatalf("Normalise(%q, %q) = %+v", dialled, country, d)
		}
	})
}
