package ecsimage

// Version is the version of the API and of this client (../../VERSION); the
// module's tags are clients/go/v<Version>.
const Version = "1.0.0"
