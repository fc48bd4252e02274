package emergency

import (
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func valid() Civic {
	return Civic{AddressNumber: "123", Street: "Main St", Unit: "Apt 4", City: "Springfield",
		State: "IL", PostalCode: "62701"}
}

func TestCheck(t *testing.T) {
	long := strings.Repeat("x", 101)
	tests := []struct {
		name   string
		change func(c *Civic)
		fields []string // fields at fault, in order; none: valid
		want   func(t *testing.T, c Civic)
	}{
		{name: "valid, country defaults to US", change: func(c *Civic) {}, want: func(t *testing.T, c Civic) {
			require.Equal(t, "US", c.Country)
		}},
		{name: "normalises case and spaces", change: func(c *Civic) {
			c.State, c.Country, c.Street, c.City = " il", "us", "  Main   St ", "Spring field"
		}, want: func(t *testing.T, c Civic) {
			require.Equal(t, Civic{AddressNumber: "123", Street: "Main St", Unit: "Apt 4", City: "Spring field",
				State: "IL", PostalCode: "62701", Country: "US"}, c)
		}},
		{name: "ZIP+4", change: func(c *Civic) { c.PostalCode = "62701-1234" }},
		{name: "missing required fields", change: func(c *Civic) { c.Street, c.City, c.State, c.PostalCode = "", " ", "", "" },
			fields: []string{"street", "city", "state", "postal_code"}},
		{name: "too long", change: func(c *Civic) { c.Street, c.AddressNumber = long, strings.Repeat("1", 21) },
			fields: []string{"address_number", "street"}},
		{name: "control characters", change: func(c *Civic) { c.City = "Spring\afield"; c.Unit = "4\x00" },
			fields: []string{"unit", "city"}},
		{name: "invalid UTF-8", change: func(c *Civic) { c.Street = "Main \xff St" }, fields: []string{"street"}},
		{name: "unknown country", change: func(c *Civic) { c.Country = "XX" }, fields: []string{"country"}},
		{name: "alpha-3 country", change: func(c *Civic) { c.Country = "USA" }, fields: []string{"country"}},
		{name: "US state by name", change: func(c *Civic) { c.State = "Illinois" }, fields: []string{"state"}},
		{name: "US state unknown", change: func(c *Civic) { c.State = "ZZ" }, fields: []string{"state"}},
		{name: "US ZIP letters", change: func(c *Civic) { c.PostalCode = "6270A" }, fields: []string{"postal_code"}},
		{name: "US ZIP short", change: func(c *Civic) { c.PostalCode = "6270" }, fields: []string{"postal_code"}},
		{name: "Canada: province and postcode as entered", change: func(c *Civic) {
			c.Country, c.State, c.PostalCode = "ca", "Ontario", "K1A 0B1"
		}, want: func(t *testing.T, c Civic) { require.Equal(t, "CA", c.Country) }},
		{name: "XML metacharacters are plain text", change: func(c *Civic) { c.Street = `<RD>"&'</RD>` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			errs := Check(&c)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
				require.NotEmpty(t, e.Code)
				require.NotEmpty(t, e.Message)
			}
			require.Equal(t, tt.fields, got, "%v", errs)
			if tt.want != nil {
				tt.want(t, c)
			}
		})
	}
}

func TestFormatted(t *testing.T) {
	c := valid()
	require.Empty(t, Check(&c))
	require.Equal(t, "123 Main St, Apt 4, Springfield, IL 62701, US", c.Formatted())
	c.AddressNumber, c.Unit = "", ""
	require.Equal(t, "Main St, Springfield, IL 62701, US", c.Formatted())
}

func TestPIDFGolden(t *testing.T) {
	c := valid()
	require.Empty(t, Check(&c))
	c.Street = `Main & "Elm" <St>`
	doc, err := BuildPIDF(PIDF{Entity: "sip:+14155550100@127.0.0.1", Device: "sess_abc",
		Civic: c, Timestamp: time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC)})
	require.NoError(t, err)
	golden := filepath.Join("testdata", "pidf.golden.xml")
	if *update {
		require.NoError(t, os.WriteFile(golden, doc, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(doc))
	got := parse(t, doc)
	require.Equal(t, c, got)
}

func TestPIDFNeedsEntity(t *testing.T) {
	_, err := BuildPIDF(PIDF{Civic: valid()})
	require.ErrorIs(t, err, ErrNoEntity)
}

// parse reads the civic address back with namespace-aware decoding, the
// way a PSAP gateway would.
func parse(t testing.TB, doc []byte) Civic {
	t.Helper()
	type civic struct {
		Country string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr country"`
		A1      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A1"`
		A3      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A3"`
		RD      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr RD"`
		HNO     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr HNO"`
		PC      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr PC"`
		UNIT    string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr UNIT"`
	}
	var p struct {
		XMLName xml.Name `xml:"urn:ietf:params:xml:ns:pidf presence"`
		Device  struct {
			Geopriv struct {
				Info struct {
					Civic civic `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr civicAddress"`
				} `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 location-info"`
				Method string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 method"`
			} `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 geopriv"`
			DeviceID string `xml:"urn:ietf:params:xml:ns:pidf:data-model deviceID"`
		} `xml:"urn:ietf:params:xml:ns:pidf:data-model device"`
	}
	require.NoError(t, xml.Unmarshal(doc, &p), "%s", doc)
	require.True(t, strings.HasPrefix(p.Device.DeviceID, "urn:uuid:"))
	require.Equal(t, "Manual", p.Device.Geopriv.Method)
	c := p.Device.Geopriv.Info.Civic
	return Civic{AddressNumber: c.HNO, Street: c.RD, Unit: c.UNIT, City: c.A3, State: c.A1, PostalCode: c.PC, Country: c.Country}
}

// FuzzPIDF: whatever the address, the document is well-formed XML that
// gives back exactly the checked address.
func FuzzPIDF(f *testing.F) {
	f.Add("123", "Main St", "Apt 4", "Springfield", "IL", "62701", "US", "sip:+1@h")
	f.Add("", "<a>&amp;]]>", "\"'", "Z\u00fcrich", "ZH", "8001", "CH", "pres:x@y\"<>")
	f.Add("1", "\xff\x00", "\u202e", "c", "s", "p", "", "")
	f.Fuzz(func(t *testing.T, num, street, unit, city, state, pc, country, entity string) {
		c := Civic{AddressNumber: num, Street: street, Unit: unit, City: city, State: state, PostalCode: pc, Country: country}
		if len(Check(&c)) > 0 {
			return // the API refuses it: never bound, never sent
		}
		doc, err := BuildPIDF(PIDF{Entity: entity, Device: street, Civic: c, Timestamp: time.Unix(0, 0)})
		if entity == "" {
			require.ErrorIs(t, err, ErrNoEntity)
			return
		}
		require.NoError(t, err)
		require.Equal(t, c, parse(t, doc))
	})
}
