// s3-server: an S3 server on loopback for the tests (an s3 build cache run for real), from
// github.com/johannesboyne/gofakes3 (objects in memory). gofakes3 checks no signature, so this
// wrapper does: every request must be signed (AWS Signature V4) with the one key pair it was
// started with, and carry its session token, or it is refused (403). It prints its address,
// then one line per request, so a test sees which key signed what.
//
//	s3-server -addr 127.0.0.1:0 -bucket NAME -access-key ID -secret-key KEY [-session-token T]
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	bucket := flag.String("bucket", "", "bucket to create at start")
	accessKey := flag.String("access-key", "", "the access key ID requests must be signed with")
	secretKey := flag.String("secret-key", "", "the secret key requests must be signed with")
	sessionToken := flag.String("session-token", "", "the session token requests must carry (none: no token)")
	flag.Parse()
	if *accessKey == "" || *secretKey == "" {
		log.Fatal("s3-server: give -access-key and -secret-key")
	}
	backend := s3mem.New()
	if *bucket != "" {
		if err := backend.CreateBucket(*bucket); err != nil {
			log.Fatalf("s3-server: create bucket %s: %v", *bucket, err)
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true))
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("s3-server: %v", err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	var mu sync.Mutex
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem := checkSignature(r, *accessKey, *secretKey, *sessionToken)
		rec := &status{ResponseWriter: w, code: http.StatusOK}
		if problem != "" {
			rec.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(rec, "<Error><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error>", problem)
		} else {
			faker.Server().ServeHTTP(rec, r)
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("%s %s %d %s\n", r.Method, r.URL.Path, rec.code, orOK(problem))
		os.Stdout.Sync()
	})
	log.Fatal(http.Serve(l, handler))
}

func orOK(problem string) string {
	if problem == "" {
		return "signed-ok"
	}
	return "refused: " + problem
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// checkSignature recomputes the request's AWS Signature V4 (header form) with the server's
// secret key: "" when it matches, else why not.
func checkSignature(r *http.Request, accessKey, secretKey, sessionToken string) string {
	auth := r.Header.Get("Authorization")
	const algorithm = "AWS4-HMAC-SHA256"
	if !strings.HasPrefix(auth, algorithm+" ") {
		return "not signed with AWS Signature V4"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algorithm+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.SplitN(fields["Credential"], "/", 2)
	if len(scope) != 2 || scope[0] != accessKey {
		return fmt.Sprintf("signed with access key %q, not the server's", scope[0])
	}
	if r.Header.Get("X-Amz-Security-Token") != sessionToken {
		return "the session token is not the server's"
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var headers strings.Builder
	for _, h := range signed {
		v := r.Header.Values(h)
		if h == "host" {
			v = []string{r.Host}
		}
		for i := range v {
			v[i] = strings.Join(strings.Fields(v[i]), " ")
		}
		headers.WriteString(h + ":" + strings.Join(v, ",") + "\n")
	}
	canonical := strings.Join([]string{
		r.Method, r.URL.EscapedPath(), canonicalQuery(r.URL.Query()), headers.String(), fields["SignedHeaders"],
		r.Header.Get("X-Amz-Content-Sha256"),
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{algorithm, r.Header.Get("X-Amz-Date"), scope[1], hex.EncodeToString(sum[:])}, "\n")
	parts := strings.Split(scope[1], "/") // date/region/service/aws4_request
	if len(parts) != 4 {
		return "a malformed credential scope"
	}
	key := []byte("AWS4" + secretKey)
	for _, p := range parts {
		key = hmacSHA256(key, p)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "the signature does not match the server's secret key"
	}
	return ""
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalQuery: keys and values URI-encoded (RFC 3986), sorted by key then value.
func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func uriEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
