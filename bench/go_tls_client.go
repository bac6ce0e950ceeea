// The Go crypto/tls reference client of bench/probe_cpu_bench.cc (docs/PERFORMANCE.md, "Probe
// engine: client CPU per full handshake"): sequential full handshakes to one address, each
// recording what the probe agent records of the server's chain (every certificate's DER, its
// SHA-256, the SHA-256 of the whole chain, the version and cipher), then close_notify (RFC 8446
// §6.1). No verification (InsecureSkipVerify), as the probe agent does not verify; no session
// resumption (RFC 8446 §2.2), so every handshake is full. Standard library only; built offline with
// Debian's golang-go (`go build -o go_tls_client go_tls_client.go`).
//
// Prints one line: "handshakes N failures F cpu_seconds C wall_seconds W version V", where C is
// this process's user+system CPU time (getrusage(2) RUSAGE_SELF) over the measured handshakes
// only, after the warm-up.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return float64(usage.Utime.Sec) + float64(usage.Utime.Usec)/1e6 +
		float64(usage.Stime.Sec) + float64(usage.Stime.Usec)/1e6
}

// observation is what one handshake records, as the agent's AddressObservation does.
type observation struct {
	chainDer          [][]byte
	certificateSha256 [][32]byte
	chainSha256       [32]byte
	version           uint16
	cipher            uint16
}

func handshake(address, serverName string, timeout time.Duration) (observation, error) {
	var result observation
	dialer := &net.Dialer{Timeout: timeout}
	config := &tls.Config{
		ServerName:             serverName,
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		MinVersion:             tls.VersionTLS12,
		MaxVersion:             tls.VersionTLS13,
	}
	conn, err := tls.DialWithDialer(dialer, "tcp", address, config)
	if err != nil {
		return result, err
	}
	state := conn.ConnectionState()
	var concatenated []byte
	for _, certificate := range state.PeerCertificates {
		der := append([]byte(nil), certificate.Raw...)
		result.chainDer = append(result.chainDer, der)
		result.certificateSha256 = append(result.certificateSha256, sha256.Sum256(der))
		concatenated = append(concatenated, der...)
	}
	result.chainSha256 = sha256.Sum256(concatenated)
	result.version = state.Version
	result.cipher = state.CipherSuite
	conn.Close() // Sends close_notify without waiting for the server's.
	if len(result.chainDer) == 0 {
		return result, fmt.Errorf("no certificate")
	}
	return result, nil
}

func versionName(version uint16) string {
	switch version {
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", version)
}

func main() {
	address := flag.String("address", "127.0.0.1:443", "host:port")
	serverName := flag.String("sni", "", "server_name (RFC 6066 §3)")
	count := flag.Int("handshakes", 1000, "measured handshakes, at most")
	seconds := flag.Float64("seconds", 10, "measuring stops after this long, whatever the count")
	warmup := flag.Int("warmup", 20, "handshakes before the measurement")
	flag.Parse()

	version := ""
	for i := 0; i < *warmup; i++ {
		if _, err := handshake(*address, *serverName, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "warm-up handshake:", err)
			os.Exit(1)
		}
	}
	handshakes, failures := 0, 0
	cpuStart := cpuSeconds()
	start := time.Now()
	limit := time.Duration(*seconds * float64(time.Second))
	for handshakes+failures < *count && time.Since(start) < limit {
		result, err := handshake(*address, *serverName, 5*time.Second)
		if err != nil {
			failures++
			continue
		}
		handshakes++
		version = versionName(result.version)
	}
	wall := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpuStart
	fmt.Printf("handshakes %d failures %d cpu_seconds %.6f wall_seconds %.6f version %s\n",
		handshakes, failures, cpu, wall, version)
}
