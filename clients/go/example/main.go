// Command example walks the ecsimage story with the Go client.
//
//	ECSIMAGE_TARGET=127.0.0.1:50051 ECSIMAGE_TOKEN=<A> ECSIMAGE_TOKEN2=<B> \
//	ECSIMAGE_ACCOUNT2=<B's account id> clients/go/run.sh example
//
// Prints one line per check ("ok - ..." or "FAIL - ...") and exits 1 if any
// check failed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ecsimage/ecsimage/clients/go/story"
)

type printer struct{ passed, failed int }

func (p *printer) Check(desc string, ok bool, info string) {
	if ok {
		p.passed++
		fmt.Println("ok - " + desc)
		return
	}
	p.failed++
	fmt.Printf("FAIL - %s %s\n", desc, info)
}

func (p *printer) Say(text string) { fmt.Println("# " + text) }

func main() {
	cfg := story.Config{
		Target:   os.Getenv("ECSIMAGE_TARGET"),
		Token:    os.Getenv("ECSIMAGE_TOKEN"),
		Token2:   os.Getenv("ECSIMAGE_TOKEN2"),
		Account2: os.Getenv("ECSIMAGE_ACCOUNT2"),
	}
	if cfg.Target == "" || cfg.Token == "" || cfg.Token2 == "" || cfg.Account2 == "" {
		fmt.Fprintln(os.Stderr, "set ECSIMAGE_TARGET, ECSIMAGE_TOKEN, ECSIMAGE_TOKEN2, ECSIMAGE_ACCOUNT2")
		os.Exit(2)
	}
	p := &printer{}
	story.Run(context.Background(), cfg, p)
	fmt.Printf("go: %d passed, %d failed\n", p.passed, p.failed)
	if p.failed > 0 || p.passed == 0 {
		os.Exit(1)
	}
}
