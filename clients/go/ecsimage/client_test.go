package ecsimage_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/ecsimage/ecsimage/clients/go/ecsimage"
	"github.com/ecsimage/ecsimage/clients/go/imagev1"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const rid = "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E"

// script is an ImageService on 127.0.0.1 that fails the first calls as
// planned and records every request and its authorization header.
type script struct {
	imagev1.UnimplementedImageServiceServer
	mu     sync.Mutex
	plan   []error
	tokens []string
	auth   []string
	calls  int
}

func (s *script) next(ctx context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.tokens = append(s.tokens, token)
	md, _ := metadata.FromIncomingContext(ctx)
	s.auth = append(s.auth, md.Get("authorization")...)
	if len(s.plan) == 0 {
		return nil
	}
	err := s.plan[0]
	s.plan = s.plan[1:]
	return err
}

func (s *script) CreateImage(ctx context.Context, r *imagev1.CreateImageRequest) (*imagev1.CreateImageResponse, error) {
	if err := s.next(ctx, r.ClientToken); err != nil {
		return nil, err
	}
	return &imagev1.CreateImageResponse{RequestId: rid, ImageId: "m-aaaaaaaaaaaaaaaaaaaa"}, nil
}

func (s *script) DeleteImage(ctx context.Context, r *imagev1.DeleteImageRequest) (*imagev1.DeleteImageResponse, error) {
	if err := s.next(ctx, ""); err != nil {
		return nil, err
	}
	if r.ImageId == "slow" {
		time.Sleep(1500 * time.Millisecond)
	}
	return &imagev1.DeleteImageResponse{RequestId: rid}, nil
}

func ecsStatus(t *testing.T, c codes.Code, code, http string, more ...*errdetails.PreconditionFailure) error {
	t.Helper()
	st := status.New(c, "message of "+code)
	st, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "R", Domain: "ecsimage",
		Metadata: map[string]string{"code": code, "httpStatus": http, "requestId": rid}},
		&errdetails.RequestInfo{RequestId: rid})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		if st, err = st.WithDetails(m); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func start(t *testing.T, s *script, opts ...ecsimage.Option) *ecsimage.Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	imagev1.RegisterImageServiceServer(srv, s)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	c, err := ecsimage.Dial(lis.Addr().String(), "tok-1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func unavailable(t *testing.T) error {
	return ecsStatus(t, codes.Unavailable, "ServiceUnavailable", "503")
}

func TestRetriesNeedGRPCGoRetry(t *testing.T) {
	if os.Getenv("GRPC_GO_RETRY") != "on" {
		t.Fatal("GRPC_GO_RETRY=on is not set: Debian's grpc-go ignores the retry policy without it (run.sh sets it)")
	}
}

func TestCreateRetriesUnavailableWithOneClientToken(t *testing.T) {
	s := &script{plan: []error{unavailable(t), unavailable(t)}}
	c := start(t, s)
	req := &imagev1.CreateImageRequest{RegionId: "cn-hangzhou", ImageName: "web"}
	resp, err := c.Images.CreateImage(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ImageId != "m-aaaaaaaaaaaaaaaaaaaa" || s.calls != 3 {
		t.Fatalf("ImageId %q after %d attempts, want 3", resp.ImageId, s.calls)
	}
	if !uuidRE.MatchString(s.tokens[0]) || s.tokens[1] != s.tokens[0] || s.tokens[2] != s.tokens[0] {
		t.Fatalf("tokens %v: want one UUID on every attempt", s.tokens)
	}
	if req.ClientToken != s.tokens[0] {
		t.Errorf("request's ClientToken %q, sent %q", req.ClientToken, s.tokens[0])
	}
	if s.auth[0] != "Bearer tok-1" {
		t.Errorf("authorization %v", s.auth)
	}
	// A second call gets a fresh token; a given token is kept.
	if _, err := c.Images.CreateImage(context.Background(), &imagev1.CreateImageRequest{RegionId: "r"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Images.CreateImage(context.Background(), &imagev1.CreateImageRequest{RegionId: "r", ClientToken: "mine"}); err != nil {
		t.Fatal(err)
	}
	if s.tokens[3] == s.tokens[0] || !uuidRE.MatchString(s.tokens[3]) || s.tokens[4] != "mine" {
		t.Errorf("tokens %v", s.tokens)
	}
}

func TestUnavailableGivesUpAndOthersAreNotRetried(t *testing.T) {
	s := &script{}
	for i := 0; i < 10; i++ {
		s.plan = append(s.plan, unavailable(t))
	}
	c := start(t, s)
	_, err := c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"})
	var e *ecsimage.Error
	if !errors.As(err, &e) || e.Code != "ServiceUnavailable" || e.HTTPStatus != 503 || s.calls != 5 {
		t.Fatalf("err %v after %d attempts, want ServiceUnavailable after 5", err, s.calls)
	}
	s.plan, s.calls = []error{ecsStatus(t, codes.Internal, "InternalError", "500"), nil}, 0
	_, err = c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"})
	if !errors.As(err, &e) || e.Code != "InternalError" || s.calls != 1 {
		t.Fatalf("err %v after %d attempts, want InternalError after 1", err, s.calls)
	}
}

func TestWithoutRetryMakesOneAttempt(t *testing.T) {
	s := &script{plan: []error{unavailable(t), nil}}
	c := start(t, s, ecsimage.WithoutRetry())
	_, err := c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"})
	if status.Code(err) != codes.Unavailable || s.calls != 1 {
		t.Fatalf("err %v after %d attempts", err, s.calls)
	}
}

func TestDeadlines(t *testing.T) {
	s := &script{}
	c := start(t, s, ecsimage.WithTimeout(200*time.Millisecond))
	t0 := time.Now()
	_, err := c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "slow"})
	var e *ecsimage.Error
	if !errors.As(err, &e) || e.GRPCCode != codes.DeadlineExceeded || time.Since(t0) > time.Second {
		t.Fatalf("default deadline: %v after %v", err, time.Since(t0))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 = time.Now()
	_, err = c.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "slow"})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(t0) > 190*time.Millisecond {
		t.Fatalf("per-call deadline: %v after %v", err, time.Since(t0))
	}
}

func TestErrorDecodedOverTheWire(t *testing.T) {
	s := &script{plan: []error{ecsStatus(t, codes.FailedPrecondition, "ImageUsingByInstance", "403",
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: "ImageUsingByInstance", Subject: "instance/i-abc"}}})}}
	c := start(t, s)
	_, err := c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"})
	var e *ecsimage.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *ecsimage.Error: %T %v", err, err)
	}
	if e.Code != "ImageUsingByInstance" || e.HTTPStatus != 403 || e.RequestID != rid ||
		e.GRPCCode != codes.FailedPrecondition || e.Message != "message of ImageUsingByInstance" {
		t.Errorf("decoded %+v", e)
	}
	if e.PreconditionFailure == nil || e.PreconditionFailure.Violations[0].Subject != "instance/i-abc" ||
		e.Detail() != e.PreconditionFailure || len(e.Details) != 3 {
		t.Errorf("details %v", e.Details)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	dir := t.TempDir()
	key, crt := dir+"/k.pem", dir+"/c.pem"
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
		"-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	cert, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	s := &script{}
	imagev1.RegisterImageServiceServer(srv, s)
	go srv.Serve(lis)
	defer srv.Stop()

	c, err := ecsimage.Dial(lis.Addr().String(), "tok", ecsimage.WithCAFile(crt))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"}); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	if len(s.auth) != 1 || s.auth[0] != "Bearer tok" {
		t.Errorf("authorization %v", s.auth)
	}
	// Plaintext to a TLS server fails (UNAVAILABLE, retried, then given up).
	plain, err := ecsimage.Dial(lis.Addr().String(), "tok", ecsimage.WithoutRetry(), ecsimage.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Images.DeleteImage(context.Background(), &imagev1.DeleteImageRequest{RegionId: "r", ImageId: "m"}); err == nil {
		t.Fatal("plaintext call to a TLS server succeeded")
	}
	if _, err := ecsimage.Dial("127.0.0.1:1", "t", ecsimage.WithCAFile(dir+"/missing.pem")); err == nil {
		t.Error("Dial with a missing CA file succeeded")
	}
}
