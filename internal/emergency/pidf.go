package emergency

import (
	"bytes"
	"crypto/sha1"
	"encoding/xml"
	"errors"
	"fmt"
	"time"
)

// Namespaces of a PIDF-LO with a civic address.
const (
	nsPIDF       = "urn:ietf:params:xml:ns:pidf"                     // RFC 3863
	nsGP         = "urn:ietf:params:xml:ns:pidf:geopriv10"           // RFC 4119
	nsCivic      = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" // RFC 5139
	nsDM         = "urn:ietf:params:xml:ns:pidf:data-model"          // RFC 4479
	methodManual = "Manual"                                          // RFC 4119 §9.5 method token: the user entered the address
)

// ContentType is the MIME type of a PIDF-LO body (RFC 4119 §4).
const ContentType = "application/pidf+xml"

// PIDF is what a PIDF-LO says: who the target is, which device, where.
type PIDF struct {
	// Entity is the target's URI (the presence entity), e.g. the caller's
	// SIP URI.
	Entity string
	// Device names the device the location is of (a session id): the
	// document's deviceID is a name-based UUID URN derived from it.
	Device string
	Civic  Civic
	// Timestamp is when the location was known (the binding time).
	Timestamp time.Time
}

// ErrNoEntity is returned for a PIDF without an entity.
var ErrNoEntity = errors.New("emergency: PIDF-LO needs an entity")

// BuildPIDF renders p as a PIDF-LO: one <dm:device> (RFC 5491 §3.4: the
// location is the device's) whose geopriv holds the civic address, its
// elements in RFC 5139 schema order. Every value goes through the XML
// encoder, so no input can break the document's structure.
func BuildPIDF(p PIDF) ([]byte, error) {
	if p.Entity == "" {
		return nil, ErrNoEntity
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	w := &xmlWriter{enc: xml.NewEncoder(&b)}
	w.open("presence", "xmlns", nsPIDF, "xmlns:gp", nsGP, "xmlns:ca", nsCivic, "xmlns:dm", nsDM, "entity", p.Entity)
	w.open("dm:device", "id", "d"+hexID(p.Device)[:12])
	w.open("gp:geopriv")
	w.open("gp:location-info")
	w.open("ca:civicAddress")
	c := p.Civic
	// RFC 5139 §3.1 element order: country, A1 (state), A3 (city), RD
	// (road), HNO (house number), PC (postal code), UNIT.
	for _, e := range [][2]string{{"ca:country", c.Country}, {"ca:A1", c.State}, {"ca:A3", c.City},
		{"ca:RD", c.Street}, {"ca:HNO", c.AddressNumber}, {"ca:PC", c.PostalCode}, {"ca:UNIT", c.Unit}} {
		if e[1] != "" {
			w.text(e[0], e[1])
		}
	}
	w.close("ca:civicAddress")
	w.close("gp:location-info")
	w.open("gp:usage-rules")
	w.close("gp:usage-rules")
	w.text("gp:method", methodManual)
	w.close("gp:geopriv")
	w.text("dm:deviceID", "urn:uuid:"+uuidFrom(p.Device))
	w.text("dm:timestamp", p.Timestamp.UTC().Format(time.RFC3339))
	w.close("dm:device")
	w.close("presence")
	if w.err == nil {
		w.err = w.enc.Flush()
	}
	if w.err != nil {
		return nil, fmt.Errorf("emergency: PIDF-LO: %w", w.err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// xmlWriter writes prefixed elements through an xml.Encoder, keeping the
// first error. encoding/xml would otherwise redeclare a default namespace
// on every element, which some PSAP gateways read badly.
type xmlWriter struct {
	enc *xml.Encoder
	err error
}

func (w *xmlWriter) token(t xml.Token) {
	if w.err == nil {
		w.err = w.enc.EncodeToken(t)
	}
}

func (w *xmlWriter) open(name string, attrs ...string) {
	se := xml.StartElement{Name: xml.Name{Local: name}}
	for i := 0; i+1 < len(attrs); i += 2 {
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	w.token(se)
}

func (w *xmlWriter) close(name string) { w.token(xml.EndElement{Name: xml.Name{Local: name}}) }

func (w *xmlWriter) text(name, value string) {
	w.open(name)
	w.token(xml.CharData(value))
	w.close(name)
}

func hexID(s string) string {
	sum := sha1.Sum([]byte(s))
	return fmt.Sprintf("%x", sum[:])
}

// uuidFrom is a name-based (version 5 layout) UUID of s, so one device
// keeps one deviceID.
func uuidFrom(s string) string {
	sum := sha1.Sum([]byte("switchboard-device:" + s))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
