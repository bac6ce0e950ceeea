// cosignature_verify: checks a witnessed MECAI log written only against the Go standard library
// and the Go module authors' implementations of signed notes and tiled logs
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), sharing no code with the witness
// or the coordinator (docs/PUBLIC_LOG.md "Witnesses"). The cosignature/v1 verifier of
// https://c2sp.org/tlog-cosignature (key type 0x04) is implemented here from the specification.
//
//	-log-url URL -log-vkey V -witness-vkey W [-min-size N] [-flip]
//	    fetches URL/checkpoint until it carries W's cosignature and verifies the log's signature and
//	    the cosignature with note.Open; -flip flips one bit of the cosignature first (must fail).
//	-body FILE -state FILE
//	    checks the consistency proof of an add-checkpoint body (c2sp.org/tlog-witness) with
//	    tlog.CheckTree, from the tree recorded in the state file to the body's checkpoint, and
//	    records the new tree there.
//
// Any failure exits 1 with a one-line reason.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// cosignatureV1 is a note.Verifier of Ed25519 cosignatures of type cosignature/v1.
type cosignatureV1 struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	// The timestamp of the last signature that verified.
	time uint64
}

func newCosignatureV1(vkey string) (*cosignatureV1, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hashHex, keyB64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" {
		return nil, errors.New("cosigner vkey: not <name>+<hash>+<key>")
	}
	hash, err := strconv.ParseUint(hashHex, 16, 32)
	if err != nil || len(hashHex) != 8 {
		return nil, errors.New("cosigner vkey: bad key hash")
	}
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != 0x04 {
		return nil, errors.New("cosigner vkey: not an Ed25519 key of type 0x04")
	}
	// key ID = SHA-256(name || "\n" || 0x04 || key)[:4]
	digest := sha256.Sum256(append([]byte(name+"\n"), key...))
	if binary.BigEndian.Uint32(digest[:4]) != uint32(hash) {
		return nil, errors.New("cosigner vkey: key hash does not match the name and key")
	}
	return &cosignatureV1{name: name, hash: uint32(hash), key: key[1:]}, nil
}

func (v *cosignatureV1) Name() string    { return v.name }
func (v *cosignatureV1) KeyHash() uint32 { return v.hash }

// Verify: sig is timestamp (8 bytes, big-endian) || Ed25519 signature of
// "cosignature/v1\ntime <timestamp>\n" || text.
func (v *cosignatureV1) Verify(text, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > math.MaxInt64 {
		return false
	}
	message := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), text...)
	if !ed25519.Verify(v.key, message, sig[8:]) {
		return false
	}
	v.time = t
	return true
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// parseCheckpoint: "<origin>\n<size>\n<base64 root>\n" (c2sp.org/tlog-checkpoint).
func parseCheckpoint(text string) (string, int64, tlog.Hash, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return "", 0, tlog.Hash{}, errors.New("checkpoint: fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return "", 0, tlog.Hash{}, errors.New("checkpoint: bad size")
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return "", 0, tlog.Hash{}, errors.New("checkpoint: bad root")
	}
	return lines[0], size, root, nil
}

func fetchCheckpoint(url string) ([]byte, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url + "/checkpoint")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /checkpoint: status %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<16))
}

func verifyNote(logURL, logVkey, witnessVkey string, minSize int64, flip bool) {
	logVerifier, err := note.NewVerifier(logVkey)
	if err != nil {
		fail("log vkey: %v", err)
	}
	witness, err := newCosignatureV1(witnessVkey)
	if err != nil {
		fail("%v", err)
	}
	// The log server follows the store; the cosigned note arrives within a few catch-ups.
	var msg []byte
	for attempt := 0; ; attempt++ {
		msg, err = fetchCheckpoint(logURL)
		if err == nil && bytes.Contains(msg, []byte("\n— "+witness.name+" ")) {
			if _, size, _, perr := parseCheckpoint(string(msg)); perr == nil && size >= minSize {
				break
			}
		}
		if attempt == 200 {
			fail("no checkpoint of at least %d entries with a cosignature of %s: %v", minSize, witness.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if flip {
		at := bytes.Index(msg, []byte("— "+witness.name+" "))
		line := msg[at:]
		encoded := line[len("— "+witness.name+" "):bytes.IndexByte(line, '\n')]
		sig, _ := base64.StdEncoding.DecodeString(string(encoded))
		sig[4+8+10] ^= 1 // a bit of the Ed25519 signature
		flipped := base64.StdEncoding.EncodeToString(sig)
		msg = bytes.Replace(msg, encoded, []byte(flipped), 1)
	}
	n, err := note.Open(msg, note.VerifierList(logVerifier, witness))
	if err != nil {
		fail("note.Open: %v", err)
	}
	cosigned := false
	for _, sig := range n.Sigs {
		if sig.Name == witness.name && sig.Hash == witness.hash {
			cosigned = true
		}
	}
	if !cosigned {
		fail("no verified cosignature of %s", witness.name)
	}
	origin, size, _, err := parseCheckpoint(n.Text)
	if err != nil {
		fail("%v", err)
	}
	if origin != logVerifier.Name() {
		fail("origin %s is not the log key's name %s", origin, logVerifier.Name())
	}
	age := time.Since(time.Unix(int64(witness.time), 0))
	if age < -time.Minute || age > time.Hour {
		fail("the cosignature's time %d is not now", witness.time)
	}
	fmt.Printf("verified %s: %d entries, cosigned by %s at %d\n", origin, size, witness.name, witness.time)
}

// checkBody verifies the consistency proof of an add-checkpoint body against the tree the state
// file records (none: old must be 0 and the proof empty), then records the body's tree.
func checkBody(bodyFile, stateFile string) {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		fail("%v", err)
	}
	head, checkpointNote, ok := strings.Cut(string(body), "\n\n")
	if !ok {
		fail("body: no empty line")
	}
	lines := strings.Split(head, "\n")
	if !strings.HasPrefix(lines[0], "old ") {
		fail("body: no old size line")
	}
	old, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil {
		fail("body: bad old size")
	}
	var proof tlog.TreeProof
	for _, line := range lines[1:] {
		h, err := tlog.ParseHash(line)
		if err != nil {
			fail("body: bad proof line %q", line)
		}
		proof = append(proof, h)
	}
	_, size, root, err := parseCheckpoint(checkpointNote)
	if err != nil {
		fail("%v", err)
	}
	var oldSize int64
	var oldRoot tlog.Hash
	if state, err := os.ReadFile(stateFile); err == nil {
		fields := strings.Fields(string(state))
		oldSize, _ = strconv.ParseInt(fields[0], 10, 64)
		oldRoot, _ = tlog.ParseHash(fields[1])
	}
	if old != oldSize {
		fail("body: old size %d, the recorded tree has %d", old, oldSize)
	}
	if old == 0 {
		if len(proof) != 0 {
			fail("body: a proof from size 0")
		}
	} else if err := tlog.CheckTree(proof, size, root, old, oldRoot); err != nil {
		fail("tlog.CheckTree from %d to %d: %v", old, size, err)
	} else {
		fmt.Printf("consistency proof from %d to %d verified\n", old, size)
	}
	if err := os.WriteFile(stateFile, []byte(fmt.Sprintf("%d %s\n", size, root)), 0o644); err != nil {
		fail("%v", err)
	}
}

func main() {
	logURL := flag.String("log-url", "", "the log's URL prefix")
	logVkey := flag.String("log-vkey", "", "the log's note vkey")
	witnessVkey := flag.String("witness-vkey", "", "the witness's cosigner vkey (type 0x04)")
	minSize := flag.Int64("min-size", 1, "the smallest tree accepted")
	flip := flag.Bool("flip", false, "flip a bit of the cosignature before verifying")
	bodyFile := flag.String("body", "", "an add-checkpoint body whose proof to check")
	stateFile := flag.String("state", "", "the tree the proof starts from")
	flag.Parse()
	if *bodyFile != "" {
		checkBody(*bodyFile, *stateFile)
		return
	}
	verifyNote(*logURL, *logVkey, *witnessVkey, *minSize, *flip)
}
