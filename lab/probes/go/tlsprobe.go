// tlslab's Go client: crypto/tls + net/http, the stack of Go services and sidecars.
//
// One long-lived process serves many probes: one JSON request per line on stdin, one JSON
// result per line on stdout. Standard library only, so it builds offline.
//
// Request fields: host, port, servername, sni (bool), min, max ("TLSv1.0".."TLSv1.3" or ""),
// ciphers (IANA names; absent: Go's defaults), ca_file, cert_file, key_file, timeout_ms,
// clock_offset_ms. Result fields: status, status_line, protocol, cipher, error (Go's own
// error text, as an http.Client caller sees it), judged_by ("client" or "lab"), bad_request.
//
// Go sends SNI whenever ServerName is a host name, and refuses an empty ServerName unless
// verification is off. "No SNI" therefore means ServerName "" + InsecureSkipVerify + a
// VerifyConnection that runs x509 verification against the lab's name: that verdict is the
// probe's code (Go's x509 package, our call), so the result says judged_by "lab".
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"
)

type request struct {
	Host          string   `json:"host"`
	Port          int      `json:"port"`
	ServerName    string   `json:"servername"`
	SNI           bool     `json:"sni"`
	Min           string   `json:"min"`
	Max           string   `json:"max"`
	Ciphers       []string `json:"ciphers"`
	CAFile        string   `json:"ca_file"`
	CertFile      string   `json:"cert_file"`
	KeyFile       string   `json:"key_file"`
	TimeoutMs     int      `json:"timeout_ms"`
	ClockOffsetMs int64    `json:"clock_offset_ms"`
}

type result struct {
	Status     int    `json:"status,omitempty"`
	StatusLine string `json:"status_line,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	Cipher     string `json:"cipher,omitempty"`
	Error      string `json:"error,omitempty"`
	JudgedBy   string `json:"judged_by"`
	BadRequest string `json:"bad_request,omitempty"`
}

var versions = map[string]uint16{
	"TLSv1.0": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

func versionName(v uint16) string {
	for name, id := range versions {
		if id == v {
			return name
		}
	}
	return fmt.Sprintf("0x%04x", v)
}

func suiteIDs(names []string) ([]uint16, error) {
	known := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s.ID
	}
	for _, s := range tls.InsecureCipherSuites() {
		known[s.Name] = s.ID
	}
	ids := []uint16{}
	for _, n := range names {
		if id, ok := known[n]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("none of the cipher suites is known to crypto/tls")
	}
	return ids, nil
}

func config(req request, verifiedByLab *bool) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: req.ServerName}
	offset := time.Duration(req.ClockOffsetMs) * time.Millisecond
	cfg.Time = func() time.Time { return time.Now().Add(offset) }
	if req.Min != "" {
		cfg.MinVersion = versions[req.Min]
	}
	if req.Max != "" {
		cfg.MaxVersion = versions[req.Max]
	}
	if req.Ciphers != nil {
		ids, err := suiteIDs(req.Ciphers)
		if err != nil {
			return nil, err
		}
		cfg.CipherSuites = ids
	}
	pem, err := os.ReadFile(req.CAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	// An empty file is an empty trust store on purpose (trust = ""): a pool with no roots.
	if len(pem) > 0 && !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", req.CAFile)
	}
	cfg.RootCAs = roots
	if req.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(req.CertFile, req.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if !req.SNI {
		name := req.ServerName
		cfg.ServerName = ""
		cfg.InsecureSkipVerify = true // Go's own check needs ServerName; ours below needs no SNI
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			*verifiedByLab = true
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: cfg.Time(),
			})
			return err
		}
	}
	return cfg, nil
}

func probe(req request) result {
	verifiedByLab := false
	cfg, err := config(req, &verifiedByLab)
	if err != nil {
		return result{BadRequest: err.Error(), JudgedBy: "lab"}
	}
	timeout := time.Duration(req.TimeoutMs) * time.Millisecond
	addr := net.JoinHostPort(req.Host, strconv.Itoa(req.Port))
	var state *tls.ConnectionState
	transport := &http.Transport{
		DisableKeepAlives: true,
		// Our own dial: the TCP target is 127.0.0.1 whatever the URL's name, and the
		// config (ServerName included) is exactly ours, not net/http's copy of the URL host.
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
			conn, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				cs := conn.(*tls.Conn).ConnectionState()
				state = &cs
			}
			return conn, err
		},
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timeout}
	url := "https://" + net.JoinHostPort(req.ServerName, strconv.Itoa(req.Port)) + "/"
	resp, err := client.Get(url)
	judged := "client"
	if verifiedByLab && (err == nil || isX509(err)) {
		judged = "lab" // the certificate verdict is VerifyConnection's (no SNI), not Go's own
	}
	if err != nil {
		return result{Error: err.Error(), JudgedBy: judged}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	out := result{Status: resp.StatusCode, StatusLine: resp.Proto + " " + resp.Status, JudgedBy: judged}
	if state != nil {
		out.Protocol = versionName(state.Version)
		out.Cipher = tls.CipherSuiteName(state.CipherSuite)
	}
	return out
}

// isX509 tells whether err is a certificate verdict (the lab's, when it ran the check).
func isX509(err error) bool {
	var a x509.CertificateInvalidError
	var h x509.HostnameError
	var u x509.UnknownAuthorityError
	return errors.As(err, &a) || errors.As(err, &h) || errors.As(err, &u)
}

func main() {
	out := json.NewEncoder(os.Stdout)
	out.Encode(map[string]any{"ready": true, "pid": os.Getpid(), "go": runtime.Version()})
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			out.Encode(result{BadRequest: err.Error(), JudgedBy: "lab"})
			continue
		}
		out.Encode(probe(req))
	}
}
