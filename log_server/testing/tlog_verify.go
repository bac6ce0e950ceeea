// tlog_verify: an auditor of a public MECAI log written only against the Go module authors'
// implementations of C2SP signed notes and RFC 6962 tiled logs (golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog), sharing no code with the server (docs/PUBLIC_LOG.md). It fetches
// the checkpoint, verifies its note with the vkey, proves the inclusion of entries and the
// consistency with the checkpoint it saw last, and recomputes the root from every entry. With
// -proof and -entry it checks, offline, a c2sp.org/tlog-proof of one entry instead. Any failure
// exits 1 with a one-line reason.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8
const immutable = "public, max-age=31536000, immutable"

var client = &http.Client{Timeout: 10 * time.Second}

type checkpoint struct {
	origin string
	tree   tlog.Tree
	note   []byte
}

func fetch(base, path string, wantStatus int) ([]byte, http.Header, error) {
	resp, err := client.Get(base + "/" + path)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != wantStatus {
		return nil, nil, fmt.Errorf("GET /%s: status %d, want %d", path, resp.StatusCode, wantStatus)
	}
	return body, resp.Header, nil
}

// openCheckpoint verifies a checkpoint note with the vkey and parses its text
// (c2sp.org/tlog-checkpoint).
func openCheckpoint(msg []byte, vkey string) (checkpoint, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return checkpoint{}, fmt.Errorf("vkey: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("checkpoint text is not three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	if lines[0] != verifier.Name() {
		return checkpoint{}, fmt.Errorf("origin %q is not the key name %q", lines[0], verifier.Name())
	}
	c := checkpoint{origin: lines[0], note: msg}
	c.tree.N = size
	copy(c.tree.Hash[:], root)
	return c, nil
}

// c2spPath is the tlog-tiles path of a tile of height 8: x/mod writes tile/8/L/N, C2SP tile/L/N.
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
}

type tileReader struct {
	base   string
	tamper bool
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var data [][]byte
	for _, t := range tiles {
		body, header, err := fetch(r.base, c2spPath(t), http.StatusOK)
		if err != nil {
			return nil, err
		}
		if len(body) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes", c2spPath(t), len(body))
		}
		if full := t.W == 1<<tileHeight; full != (header.Get("Cache-Control") == immutable) {
			return nil, fmt.Errorf("%s: Cache-Control %q", c2spPath(t), header.Get("Cache-Control"))
		}
		if r.tamper && t.L == 0 {
			body[len(body)/2] ^= 1
		}
		data = append(data, body)
	}
	return data, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// bundle fetches the entry bundle holding entry `index` in a tree of `size` entries.
func bundle(base string, index, size int64) ([][]byte, error) {
	t := tlog.Tile{H: tileHeight, L: 0, N: index >> tileHeight, W: 1 << tileHeight}
	if end := (t.N + 1) << tileHeight; end > size {
		t.W = int(size - t.N<<tileHeight)
	}
	path := strings.Replace(c2spPath(t), "tile/0/", "tile/entries/", 1)
	body, _, err := fetch(base, path, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(body) > 0 {
		if len(body) < 2 || len(body) < 2+int(binary.BigEndian.Uint16(body)) {
			return nil, fmt.Errorf("%s is truncated", path)
		}
		n := int(binary.BigEndian.Uint16(body))
		entries = append(entries, body[2:2+n])
		body = body[2+n:]
	}
	if len(entries) != t.W {
		return nil, fmt.Errorf("%s holds %d entries, not %d", path, len(entries), t.W)
	}
	return entries, nil
}

// rootOf is RFC 6962 §2.1's MTH, written out here rather than taken from x/mod.
func rootOf(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	left, right := rootOf(leaves[:k]), rootOf(leaves[k:])
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left[:])
	h.Write(right[:])
	var out tlog.Hash
	copy(out[:], h.Sum(nil))
	return out
}

// verifyProof checks a c2sp.org/tlog-proof (https://c2sp.org/tlog-proof "Format") of `entry`
// with the vkey: the note, the origin, and the RFC 6962 inclusion proof (tlog.CheckRecord).
func verifyProof(text, entry []byte, vkey string) error {
	rest := string(text)
	next := func() (string, bool) {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		line := rest[:i]
		rest = rest[i+1:]
		return line, true
	}
	if line, ok := next(); !ok || line != "c2sp.org/tlog-proof@v1" {
		return errors.New("proof: no c2sp.org/tlog-proof@v1 line")
	}
	line, ok := next()
	if ok && strings.HasPrefix(line, "extra ") {
		line, ok = next()
	}
	if !ok || !strings.HasPrefix(line, "index ") {
		return errors.New("proof: no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(line, "index "), 10, 64)
	if err != nil || index < 0 || "index "+strconv.FormatInt(index, 10) != line {
		return fmt.Errorf("proof: index line %q", line)
	}
	var proof tlog.RecordProof
	for {
		line, ok := next()
		if !ok {
			return errors.New("proof: no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		hash, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(hash) != tlog.HashSize {
			return fmt.Errorf("proof: hash line %q", line)
		}
		var h tlog.Hash
		copy(h[:], hash)
		proof = append(proof, h)
	}
	cp, err := openCheckpoint([]byte(rest), vkey)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(proof, cp.tree.N, cp.tree.Hash, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("proof of entry %d: %v", index, err)
	}
	fmt.Printf("proof verified: entry %d of %s, tree of %d entries\n", index, cp.origin, cp.tree.N)
	return nil
}

func run() error {
	base := flag.String("url", "", "the log's URL prefix")
	vkey := flag.String("vkey", "", "the log's verifier key")
	state := flag.String("state", "", "file holding the checkpoint seen last (read, then replaced)")
	minSize := flag.Int64("min-size", 0, "wait (up to 30 s) for a checkpoint of at least this size")
	tamper := flag.Bool("tamper", false, "flip a bit of each level-0 tile received (must fail)")
	proofFile := flag.String("proof", "", "check this c2sp.org/tlog-proof of the -entry file, offline")
	entryFile := flag.String("entry", "", "the entry -proof is a proof of")
	flag.Parse()

	if *proofFile != "" {
		text, err := os.ReadFile(*proofFile)
		if err != nil {
			return err
		}
		entry, err := os.ReadFile(*entryFile)
		if err != nil {
			return err
		}
		return verifyProof(text, entry, *vkey)
	}

	var cp checkpoint
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		msg, header, err := fetch(*base, "checkpoint", http.StatusOK)
		if err != nil {
			return err
		}
		if got := header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			return fmt.Errorf("checkpoint Content-Type %q", got)
		}
		if got := header.Get("Cache-Control"); !strings.HasPrefix(got, "public, max-age=") || got == immutable {
			return fmt.Errorf("checkpoint Cache-Control %q", got)
		}
		if cp, err = openCheckpoint(msg, *vkey); err != nil {
			return err
		}
		if cp.tree.N >= *minSize {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no checkpoint of size %d within 30 s (size %d)", *minSize, cp.tree.N)
		}
	}
	n := cp.tree.N
	reader := tlog.TileHashReader(cp.tree, &tileReader{base: *base, tamper: *tamper})

	// Every entry: its leaf hash, the root they make, and the level-0 tile hashes.
	var leaves []tlog.Hash
	for start := int64(0); start < n; start += 1 << tileHeight {
		entries, err := bundle(*base, start, n)
		if err != nil {
			return err
		}
		for _, e := range entries {
			leaves = append(leaves, tlog.RecordHash(e))
		}
	}
	if n == 0 || rootOf(leaves) != cp.tree.Hash {
		return errors.New("the entries do not make the checkpoint's root")
	}
	// Inclusion proofs from the tiles (tlog.ProveRecord / CheckRecord).
	for _, i := range []int64{0, 1, 255, 256, 257, n / 2, n - 2, n - 1} {
		if i < 0 || i >= n {
			continue
		}
		proof, err := tlog.ProveRecord(n, i, reader)
		if err != nil {
			return fmt.Errorf("inclusion proof of entry %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, n, cp.tree.Hash, i, leaves[i]); err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
	}
	if root, err := tlog.TreeHash(n, reader); err != nil || root != cp.tree.Hash {
		return fmt.Errorf("the tiles do not make the checkpoint's root: %v", err)
	}
	// Consistency with the checkpoint seen last (tlog.ProveTree / CheckTree).
	if *state != "" {
		if old, err := os.ReadFile(*state); err == nil {
			previous, err := openCheckpoint(old, *vkey)
			if err != nil {
				return fmt.Errorf("the previous checkpoint: %v", err)
			}
			if previous.tree.N > n {
				return fmt.Errorf("the log shrank from %d to %d", previous.tree.N, n)
			}
			proof, err := tlog.ProveTree(n, previous.tree.N, reader)
			if err != nil {
				return fmt.Errorf("consistency proof %d -> %d: %v", previous.tree.N, n, err)
			}
			if err := tlog.CheckTree(proof, n, cp.tree.Hash, previous.tree.N, previous.tree.Hash); err != nil {
				return fmt.Errorf("consistency %d -> %d: %v", previous.tree.N, n, err)
			}
			fmt.Printf("consistent with the previous checkpoint of %d entries\n", previous.tree.N)
		} else if !os.IsNotExist(err) {
			return err
		}
		if err := os.WriteFile(*state, cp.note, 0o600); err != nil {
			return err
		}
	}
	// Nothing beyond the tree.
	beyond := tlog.Tile{H: tileHeight, L: 0, N: n >> tileHeight, W: 1 << tileHeight}
	if _, _, err := fetch(*base, c2spPath(beyond), http.StatusNotFound); err != nil {
		return err
	}
	if _, _, err := fetch(*base, "tile/entries/"+strings.TrimPrefix(c2spPath(beyond), "tile/0/"), http.StatusNotFound); err != nil {
		return err
	}
	fmt.Printf("verified %s: %d entries, root %s\n", cp.origin, n, cp.tree.Hash)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "tlog_verify: %v\n", err)
		os.Exit(1)
	}
}
