// The Go client of ecsimage. Tags: clients/go/vX.Y.Z (the version in
// ../../VERSION). The versions below are the ones it is built and tested
// against here: Debian 12's Go 1.19 and golang-*-dev packages (see README.md).
module github.com/ecsimage/ecsimage/clients/go

go 1.19

require (
	github.com/google/uuid v1.3.0
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
