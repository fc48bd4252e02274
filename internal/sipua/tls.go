package sipua

import (
	"crypto/tls"
	"fmt"
)

// startTLS serves SIP over TLS (RFC 3261 §26.2, sips:) on addr with the
// given certificate, when configured. Phones that support it keep their
// digest exchange and call setup off the wire.
func (u *UA) startTLS(addr, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("sip: tls: %w", err)
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return fmt.Errorf("sip: listen tls %s: %w", addr, err)
	}
	u.tlsLn = ln
	u.wg.Add(1)
	go func() { defer u.wg.Done(); u.serve("tls", u.srv.ServeTLS(ln)) }()
	u.log.Info("sip tls listening", "addr", ln.Addr().String())
	return nil
}

// TLSAddr is the bound SIP-over-TLS address, or "" when TLS is off.
func (u *UA) TLSAddr() string {
	if u.tlsLn == nil {
		return ""
	}
	return u.tlsLn.Addr().String()
}
