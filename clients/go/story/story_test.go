package story

import (
	"context"
	"os"
	"testing"

	"github.com/ecsimage/ecsimage/clients/go/ecsimage"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

type testReporter struct{ t *testing.T }

func (r testReporter) Check(desc string, ok bool, info string) {
	r.t.Helper()
	if !ok {
		r.t.Errorf("%s: %s", desc, info)
	}
}

func (r testReporter) Say(text string) { r.t.Log(text) }

// TestStory walks the story against the server named by ECSIMAGE_TARGET
// (started with --simulation-control); skipped when it is not set.
func TestStory(t *testing.T) {
	cfg := Config{
		Target:   os.Getenv("ECSIMAGE_TARGET"),
		Token:    os.Getenv("ECSIMAGE_TOKEN"),
		Token2:   os.Getenv("ECSIMAGE_TOKEN2"),
		Account2: os.Getenv("ECSIMAGE_ACCOUNT2"),
	}
	if cfg.Target == "" {
		t.Skip("ECSIMAGE_TARGET not set")
	}
	Run(context.Background(), cfg, testReporter{t})
}

// TestFromError decodes a status built here, with no server.
func TestFromError(t *testing.T) {
	st := status.New(codes.FailedPrecondition, "The specified image has been used to create instances.")
	st, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "IMAGE_USING_BY_INSTANCE", Domain: "ecsimage",
			Metadata: map[string]string{"code": "ImageUsingByInstance", "httpStatus": "403",
				"requestId": "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E"}},
		&errdetails.RequestInfo{RequestId: "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E"},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: "ImageUsingByInstance", Subject: "instance/i-abc"}}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500e6)},
	)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ecsimage.FromError(st.Err(), nil).(*ecsimage.Error)
	if !ok {
		t.Fatalf("not an *ecsimage.Error")
	}
	if e.Code != "ImageUsingByInstance" || e.HTTPStatus != 403 || e.GRPCCode != codes.FailedPrecondition ||
		e.RequestID != "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E" || e.Reason != UpperSnake(e.Code) {
		t.Errorf("decoded %+v", e)
	}
	if e.PreconditionFailure == nil || e.PreconditionFailure.Violations[0].Subject != "instance/i-abc" {
		t.Errorf("PreconditionFailure %v", e.PreconditionFailure)
	}
	if e.RetryDelay().Milliseconds() != 1500 {
		t.Errorf("RetryDelay %v", e.RetryDelay())
	}
	if status.Code(e) != codes.FailedPrecondition {
		t.Errorf("status.Code(*Error) = %v", status.Code(e))
	}
}

func TestUpperSnake(t *testing.T) {
	for in, want := range map[string]string{
		"InvalidImageId.NotFound":      "INVALID_IMAGE_ID_NOT_FOUND",
		"OperationDenied.ImageCopying": "OPERATION_DENIED_IMAGE_COPYING",
		"ImageUsingByInstance":         "IMAGE_USING_BY_INSTANCE",
		"QuotaExceed.ShareImageUser":   "QUOTA_EXCEED_SHARE_IMAGE_USER",
	} {
		if got := UpperSnake(in); got != want {
			t.Errorf("UpperSnake(%q) = %q, want %q", in, got, want)
		}
	}
}
