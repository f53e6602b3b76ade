// Go net/http client (crypto/tls, HTTP/2 over TLS by ALPN unless -h1): webc BASEURL SEED PATH...
// Fetches the paths with up to -conc requests in flight, as Go services and CLIs (Prometheus, Terraform) do.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	h1 := flag.Bool("h1", false, "HTTP/1.1 only")
	conc := flag.Int("conc", 1, "requests in flight")
	tls12 := flag.Bool("tls12", false, "TLS 1.2 at most")
	flag.Parse()
	args := flag.Args()
	base, seed := args[0], args[1]
	var s int64
	fmt.Sscan(seed, &s)
	rng := rand.New(rand.NewSource(s))
	cfg := &tls.Config{InsecureSkipVerify: true}
	if *tls12 {
		cfg.MaxVersion = tls.VersionTLS12
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: !*h1, MaxConnsPerHost: *conc}
	if *h1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	fail := false
	for _, p := range args[2:] {
		wg.Add(1)
		sem <- struct{}{}
		go func(p string) {
			defer wg.Done()
			defer func() { <-sem }()
			method := "GET"
			var body io.Reader
			if strings.HasPrefix(p, "upload") {
				method = "POST"
				body = strings.NewReader(strings.Repeat("g", 1+rng.Intn(20000)))
			}
			req, _ := http.NewRequest(method, base+"/"+p, body)
			if rng.Intn(3) == 0 {
				req.Header.Set("Accept", "application/json")
			}
			r, err := c.Do(req)
			if err != nil {
				fail = true
				return
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}(p)
	}
	wg.Wait()
	if fail {
		os.Exit(1)
	}
}
