// Package story walks the ecsimage story with the Go client: create an
// image, copy it, watch the copy go Waiting -> Creating, cancel it, delete
// (a repeated delete is OK) and meet every ECS error of CancelCopyImage and
// DeleteImage (MissingParameter, InvalidRegionId.NotFound,
// InvalidImageId.NotFound, ImageCreatedNotFromCopy, IncorrectImageStatus in
// each phase, CancelNotSupported, ImageIsImporting,
// OperationDenied.ImageCopying, ImageIsExporting, ImageIsPublic,
// ImageUseShared, ImageUsingByInstance).
//
// It needs a server started with --simulation-control and two accounts.
package story

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ecsimage/ecsimage/clients/go/ecsimage"
	"github.com/ecsimage/ecsimage/clients/go/imagev1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config names the server and the two accounts.
type Config struct {
	Target   string
	Token    string // account A: owns the images
	Token2   string // account B: images are shared with it
	Account2 string // account B's id
}

// Reporter receives one result per check.
type Reporter interface {
	Check(desc string, ok bool, info string)
	Say(text string)
}

var (
	requestID  = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	imageID    = regexp.MustCompile(`^m-[a-z0-9]{20}$`)
	instanceID = regexp.MustCompile(`^i-[a-z0-9]{20}$`)
)

const (
	srcRegion   = "cn-hangzhou"
	dstRegion   = "cn-shanghai"
	allStatuses = "Waiting,Creating,Available,UnAvailable,CreateFailed,Deprecated"
)

type run struct {
	r   Reporter
	ctx context.Context
	a   *ecsimage.Client
	b   *ecsimage.Client
}

// UpperSnake maps an ECS code to its ErrorInfo reason (AIP-193).
func UpperSnake(code string) string {
	var b strings.Builder
	for i, c := range code {
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 {
				p := code[i-1]
				if (p >= 'a' && p <= 'z') || (p >= '0' && p <= '9') {
					b.WriteByte('_')
				}
			}
			b.WriteRune(c)
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// expectError checks err is an ECS error with that code (empty: any code),
// gRPC code and HTTP status (0: any), and runs detail on it.
func (s *run) expectError(desc string, err error, code string, grpcCode codes.Code,
	http int, detail func(*ecsimage.Error) (string, bool)) *ecsimage.Error {
	var e *ecsimage.Error
	if err == nil {
		s.r.Check(desc, false, "call succeeded")
		return nil
	}
	if !errors.As(err, &e) {
		s.r.Check(desc, false, fmt.Sprintf("not an ecsimage.Error: %v", err))
		return nil
	}
	s.r.Say(fmt.Sprintf("%s -> %v", desc, e))
	// status.FromError still sees the gRPC status through *Error.
	st, _ := status.FromError(err)
	ok := (code == "" || e.Code == code) && e.GRPCCode == grpcCode &&
		st.Code() == grpcCode && (http == 0 || e.HTTPStatus == http)
	s.r.Check(fmt.Sprintf("%s: %s / %s / HTTP %d", desc, orAny(code), grpcCode, http), ok,
		fmt.Sprintf("got %s / %s / HTTP %d", e.Code, e.GRPCCode, e.HTTPStatus))
	if code != "" {
		s.r.Check(desc+": RequestId in details and trailer",
			requestID.MatchString(e.RequestID) && e.RequestID == e.TrailerRequestID &&
				e.RequestInfo != nil && e.RequestInfo.RequestId == e.RequestID,
			fmt.Sprintf("%q vs trailer %q", e.RequestID, e.TrailerRequestID))
		s.r.Check(desc+": ErrorInfo reason is UPPER_SNAKE", e.Reason == UpperSnake(code), e.Reason)
	}
	if detail != nil {
		what, ok := detail(e)
		s.r.Check(desc+": "+what+" detail", ok, fmt.Sprintf("%v", e.Details))
	}
	return e
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func precondition(subjectPrefix string) func(*ecsimage.Error) (string, bool) {
	return func(e *ecsimage.Error) (string, bool) {
		pf := e.PreconditionFailure
		return "PreconditionFailure", pf != nil && len(pf.Violations) > 0 &&
			pf.Violations[0].Type == e.Code &&
			strings.HasPrefix(pf.Violations[0].Subject, subjectPrefix)
	}
}

func resourceInfo(e *ecsimage.Error) (string, bool) {
	return "ResourceInfo", e.ResourceInfo != nil && e.ResourceInfo.ResourceName != ""
}

// must stops the story on an unexpected error of a step it depends on.
type stop struct{ err error }

func (s *run) must(step string, err error) {
	if err != nil {
		s.r.Check(step, false, err.Error())
		panic(stop{err})
	}
}

func (s *run) describe(region, id, statuses string) *imagev1.DescribeImagesResponse {
	resp, err := s.a.Images.DescribeImages(s.ctx, &imagev1.DescribeImagesRequest{
		RegionId: region, ImageId: id, Status: statuses})
	s.must("DescribeImages "+id, err)
	return resp
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run walks the story; a step failing unexpectedly ends it early (reported
// as a failed check).
func Run(ctx context.Context, cfg Config, r Reporter) {
	a, err := ecsimage.Dial(cfg.Target, cfg.Token)
	if err != nil {
		r.Check("dial", false, err.Error())
		return
	}
	defer a.Close()
	b, err := ecsimage.Dial(cfg.Target, cfg.Token2)
	if err != nil {
		r.Check("dial", false, err.Error())
		return
	}
	defer b.Close()
	s := &run{r: r, ctx: ctx, a: a, b: b}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stop); !ok {
				panic(p)
			}
		}
	}()
	s.walk(cfg)
}

func (s *run) walk(cfg Config) {
	ctx, a, b, r := s.ctx, s.a, s.b, s.r
	sfx := suffix()

	regions, err := a.Images.DescribeRegions(ctx, &imagev1.DescribeRegionsRequest{})
	s.must("DescribeRegions", err)
	seen := map[string]bool{}
	for _, reg := range regions.Regions {
		seen[reg.RegionId] = true
	}
	r.Check("DescribeRegions lists cn-hangzhou and cn-shanghai", seen[srcRegion] && seen[dstRegion], "")

	// 1. Create an image; with --simulation-control it stays Creating until
	// driven to Available.
	created, err := a.Images.CreateImage(ctx, &imagev1.CreateImageRequest{
		RegionId: srcRegion, ImageName: "story-go-" + sfx, Description: "go story", Size: 20})
	s.must("CreateImage", err)
	src := created.ImageId
	r.Say(fmt.Sprintf("CreateImage -> %s (RequestId %s)", src, created.RequestId))
	r.Check("CreateImage returns an m- ImageId", imageID.MatchString(src), src)
	r.Check("CreateImage returns a RequestId", requestID.MatchString(created.RequestId), created.RequestId)
	moved, err := a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{
		RegionId: srcRegion, ImageId: src, Phase: "Available"})
	s.must("AdvanceTask Available", err)
	r.Check("AdvanceTask makes the image Available", moved.Status == "Available", moved.String())

	// 2. Copy it: Waiting (QUEUED), then Creating.
	copied, err := a.Images.CopyImage(ctx, &imagev1.CopyImageRequest{
		RegionId: srcRegion, ImageId: src, DestinationRegionId: dstRegion,
		DestinationImageName: "story-go-copy-" + sfx})
	s.must("CopyImage", err)
	cp := copied.ImageId
	r.Say("CopyImage -> " + cp)
	r.Check("CopyImage returns an m- ImageId", imageID.MatchString(cp), cp)
	img := s.describe(dstRegion, cp, "Waiting,Creating").Images
	r.Check("the copy is Waiting (QUEUED, 0%)", len(img) == 1 && img[0].Status == "Waiting" &&
		img[0].CopyPhase == "QUEUED" && img[0].Progress == "0%" && img[0].IsCopied, fmt.Sprint(img))

	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src})
	s.expectError("DeleteImage of the copy's source", err, "OperationDenied.ImageCopying",
		codes.FailedPrecondition, 403, precondition(""))

	_, err = a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{RegionId: dstRegion, ImageId: cp, Phase: "PREPARING"})
	s.must("AdvanceTask PREPARING", err)
	img = s.describe(dstRegion, cp, "Waiting,Creating").Images
	r.Check("PREPARING: the copy is Creating 0%", len(img) == 1 && img[0].Status == "Creating" &&
		img[0].Progress == "0%", fmt.Sprint(img))
	_, err = a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{
		RegionId: dstRegion, ImageId: cp, Phase: "TRANSFERRING", Progress: 40})
	s.must("AdvanceTask TRANSFERRING", err)
	img = s.describe(dstRegion, cp, "Waiting,Creating").Images
	r.Check("TRANSFERRING: the copy is Creating 40%", len(img) == 1 && img[0].Status == "Creating" &&
		img[0].Progress == "40%" && img[0].CopyPhase == "TRANSFERRING", fmt.Sprint(img))

	// 3. Cancel: CANCELLING (UnAvailable), then CANCELLED (a tombstone).
	cancelled, err := a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: dstRegion, ImageId: cp})
	s.must("CancelCopyImage", err)
	r.Check("CancelCopyImage succeeds with a RequestId", requestID.MatchString(cancelled.RequestId), cancelled.String())
	img = s.describe(dstRegion, cp, allStatuses).Images
	r.Check("the cancelled copy is UnAvailable (CANCELLING)", len(img) == 1 &&
		img[0].Status == "UnAvailable" && img[0].CopyPhase == "CANCELLING", fmt.Sprint(img))
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: dstRegion, ImageId: cp})
	if e := s.expectError("CancelCopyImage while CANCELLING", err, "IncorrectImageStatus",
		codes.FailedPrecondition, 400, precondition("")); e != nil {
		r.Check("CANCELLING: its message", e.Message == "The specified image is not coping.", e.Message)
	}
	moved, err = a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{RegionId: dstRegion, ImageId: cp, Phase: "CANCELLED"})
	s.must("AdvanceTask CANCELLED", err)
	r.Check("CANCELLED: the copy is a tombstone", moved.Phase == "CANCELLED" && moved.Status == "", moved.String())
	r.Check("a tombstone is never described", s.describe(dstRegion, cp, allStatuses).TotalCount == 0, "")

	// 4. Deleting a tombstone is OK, again and again.
	for n := 1; n <= 2; n++ {
		resp, err := a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: dstRegion, ImageId: cp})
		ok := err == nil && requestID.MatchString(resp.GetRequestId())
		r.Check(fmt.Sprintf("DeleteImage of the tombstone #%d is OK", n), ok, fmt.Sprint(err))
	}
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: dstRegion, ImageId: cp})
	s.expectError("CancelCopyImage of the cancelled copy", err, "InvalidImageId.NotFound", codes.NotFound, 404, nil)

	// 5. Blockers of DeleteImage: shares, then instances.
	ran, err := a.Instances.RunInstances(ctx, &imagev1.RunInstancesRequest{RegionId: srcRegion, ImageId: src, Amount: 1})
	s.must("RunInstances", err)
	inst := ran.InstanceIdSets
	r.Check("RunInstances returns an i- InstanceId", len(inst) == 1 && instanceID.MatchString(inst[0]), fmt.Sprint(inst))
	_, err = a.Images.ModifyImageSharePermission(ctx, &imagev1.ModifyImageSharePermissionRequest{
		RegionId: srcRegion, ImageId: src, AddAccount: []string{cfg.Account2}})
	s.must("ModifyImageSharePermission AddAccount", err)
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src})
	s.expectError("DeleteImage of a shared image", err, "ImageUseShared", codes.FailedPrecondition, 403, precondition(""))
	shared, err := b.Images.DescribeImages(ctx, &imagev1.DescribeImagesRequest{RegionId: srcRegion, ImageId: src})
	s.must("B DescribeImages", err)
	r.Check("B sees the shared image as others", len(shared.Images) == 1 &&
		shared.Images[0].ImageOwnerAlias == "others", fmt.Sprint(shared.Images))
	_, err = b.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src})
	s.expectError("B deleting A's shared image", err, "InvalidImageId.NotFound", codes.NotFound, 404, resourceInfo)
	_, err = a.Images.ModifyImageSharePermission(ctx, &imagev1.ModifyImageSharePermissionRequest{
		RegionId: srcRegion, ImageId: src, RemoveAccount: []string{cfg.Account2}})
	s.must("ModifyImageSharePermission RemoveAccount", err)
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src})
	e := s.expectError("DeleteImage of an image instances use", err, "ImageUsingByInstance",
		codes.FailedPrecondition, 403, precondition("instance/"))
	if e != nil && e.PreconditionFailure != nil && len(inst) == 1 {
		r.Check("ImageUsingByInstance names the instance",
			e.PreconditionFailure.Violations[0].Subject == "instance/"+inst[0], e.PreconditionFailure.String())
	}
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src, Force: true})
	r.Check("DeleteImage Force=true succeeds", err == nil, fmt.Sprint(err))
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: src})
	r.Check("a repeated DeleteImage is OK", err == nil, fmt.Sprint(err))
	r.Check("the deleted image is not described", s.describe(srcRegion, src, allStatuses).TotalCount == 0, "")

	// 6. Ids that never existed; missing and broken tokens.
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: "m-" + strings.Repeat("0", 20)})
	s.expectError("DeleteImage of an id that never existed", err, "InvalidImageId.NotFound", codes.NotFound, 404, resourceInfo)
	for _, tok := range []struct{ desc, token string }{
		{"a call without a token", ""}, {"a call with a broken token", "not-a-token"}} {
		c, err := ecsimage.Dial(cfg.Target, tok.token)
		s.must("dial", err)
		_, err = c.Images.DescribeRegions(ctx, &imagev1.DescribeRegionsRequest{})
		s.expectError(tok.desc, err, "", codes.Unauthenticated, 0, nil)
		c.Close()
	}
	s.moreErrors(sfx)
}

func badRequest(field string) func(*ecsimage.Error) (string, bool) {
	return func(e *ecsimage.Error) (string, bool) {
		br := e.BadRequest
		return "BadRequest", br != nil && len(br.FieldViolations) > 0 && br.FieldViolations[0].Field == field
	}
}

// moreErrors meets the rest of the headline pair's errors: missing
// parameters, unknown regions, copies that are not cancellable (by phase, by
// encryption), and the import, export and publication that block DeleteImage.
func (s *run) moreErrors(sfx string) {
	ctx, a, r := s.ctx, s.a, s.r
	noImage := "m-" + strings.Repeat("0", 20)
	_, err := a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion})
	s.expectError("DeleteImage without ImageId", err, "MissingParameter", codes.InvalidArgument, 400, badRequest("ImageId"))
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: "cn-nowhere", ImageId: noImage})
	s.expectError("DeleteImage in a region that does not exist", err, "InvalidRegionId.NotFound", codes.NotFound, 404, resourceInfo)
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: srcRegion})
	s.expectError("CancelCopyImage without ImageId", err, "MissingParameter", codes.InvalidArgument, 400, badRequest("ImageId"))
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: "cn-nowhere", ImageId: noImage})
	s.expectError("CancelCopyImage in a region that does not exist", err, "InvalidRegionId.NotFound", codes.NotFound, 404, resourceInfo)

	created, err := a.Images.CreateImage(ctx, &imagev1.CreateImageRequest{
		RegionId: srcRegion, ImageName: "story-go-base-" + sfx, Size: 20})
	s.must("CreateImage base", err)
	base := created.ImageId
	_, err = a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{RegionId: srcRegion, ImageId: base, Phase: "Available"})
	s.must("AdvanceTask base Available", err)
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: srcRegion, ImageId: base})
	s.expectError("CancelCopyImage of an image that is not a copy", err, "ImageCreatedNotFromCopy",
		codes.FailedPrecondition, 400, precondition(""))

	copyOf := func(name string, encrypted bool) string {
		resp, err := a.Images.CopyImage(ctx, &imagev1.CopyImageRequest{RegionId: srcRegion, ImageId: base,
			DestinationRegionId: dstRegion, DestinationImageName: name + sfx, Encrypted: encrypted})
		s.must("CopyImage "+name, err)
		return resp.ImageId
	}
	advance := func(image, phase string) {
		_, err := a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{RegionId: dstRegion, ImageId: image, Phase: phase})
		s.must("AdvanceTask "+phase, err)
	}
	fail := func(image string) {
		_, err := a.Sim.FailTask(ctx, &imagev1.FailTaskRequest{RegionId: dstRegion, ImageId: image})
		s.must("FailTask", err)
	}
	notCancellable := func(desc, image, message string) {
		_, err := a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: dstRegion, ImageId: image})
		if e := s.expectError(desc, err, "IncorrectImageStatus", codes.FailedPrecondition, 400, precondition("")); e != nil {
			r.Check(desc+": its message", e.Message == message, e.Message)
		}
	}
	c := copyOf("story-go-phases-", false)
	for _, p := range []struct{ phase, message string }{
		{"PREPARING", "The specified snapshot is not coping."},
		{"REGISTERING", "The image is copied finished."},
		{"SUCCEEDED", "The image has completed copy."},
	} {
		advance(c, p.phase)
		notCancellable("CancelCopyImage in "+p.phase, c, p.message)
	}
	f := copyOf("story-go-failed-", false)
	advance(f, "PREPARING")
	fail(f)
	notCancellable("CancelCopyImage of a FAILED copy", f, "The Image copy has been failed.")
	enc := copyOf("story-go-encrypted-", true)
	_, err = a.Images.CancelCopyImage(ctx, &imagev1.CancelCopyImageRequest{RegionId: dstRegion, ImageId: enc})
	s.expectError("CancelCopyImage of an encrypted copy", err, "CancelNotSupported", codes.FailedPrecondition, 400, precondition(""))
	advance(enc, "PREPARING")
	fail(enc)

	imp, err := a.Images.ImportImage(ctx, &imagev1.ImportImageRequest{RegionId: srcRegion,
		ImageName: "story-go-import-" + sfx, OssBucket: "my-bucket", OssObject: "story.qcow2", Size: 20})
	s.must("ImportImage", err)
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: imp.ImageId})
	s.expectError("DeleteImage of an importing image", err, "ImageIsImporting", codes.FailedPrecondition, 403, precondition(""))
	_, err = a.Images.CancelTask(ctx, &imagev1.CancelTaskRequest{RegionId: srcRegion, TaskId: imp.TaskId})
	s.must("CancelTask", err)

	exp, err := a.Images.ExportImage(ctx, &imagev1.ExportImageRequest{RegionId: srcRegion, ImageId: base,
		OssBucket: "my-bucket", OssPrefix: "exports/"})
	s.must("ExportImage", err)
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: base})
	if e := s.expectError("DeleteImage of an exporting image", err, "ImageIsExporting",
		codes.FailedPrecondition, 403, precondition("")); e != nil {
		r.Check("ImageIsExporting carries RetryInfo", e.RetryInfo != nil, fmt.Sprint(e.Details))
	}
	_, err = a.Sim.AdvanceTask(ctx, &imagev1.AdvanceTaskRequest{RegionId: srcRegion, TaskId: exp.TaskId, Phase: "Finished"})
	s.must("AdvanceTask export Finished", err)

	public := true
	_, err = a.Images.ModifyImageSharePermission(ctx, &imagev1.ModifyImageSharePermissionRequest{
		RegionId: srcRegion, ImageId: base, IsPublic: &public})
	s.must("ModifyImageSharePermission IsPublic", err)
	_, err = a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: base})
	s.expectError("DeleteImage of a public image", err, "ImageIsPublic", codes.FailedPrecondition, 403, precondition(""))
	public = false
	_, err = a.Images.ModifyImageSharePermission(ctx, &imagev1.ModifyImageSharePermissionRequest{
		RegionId: srcRegion, ImageId: base, IsPublic: &public})
	s.must("ModifyImageSharePermission private", err)
	resp, err := a.Images.DeleteImage(ctx, &imagev1.DeleteImageRequest{RegionId: srcRegion, ImageId: base})
	r.Check("DeleteImage once nothing blocks it", err == nil && requestID.MatchString(resp.GetRequestId()), fmt.Sprint(err))
}
