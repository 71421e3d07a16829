package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"google.golang.org/api/option"
)

// provision creates, on the test servers, the bucket, container or queue a
// demo run of kind delivers to (named with suffix), and returns the
// destination's settings. Only the emulators that scripts/test-servers
// starts are provisioned this way; a real cloud account is configured with
// WB_DEMO_<KIND>_SETTINGS instead.
func provision(ctx context.Context, kind, suffix string) (json.RawMessage, error) {
	env := func(name string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("demo --destination %s needs %s: run eval \"$(scripts/test-servers up)\" first", kind, name)
		}
		return v, nil
	}
	name := "wearbridge-demo-" + suffix
	switch kind {
	case "s3":
		endpoint, err := env("TEST_S3_ENDPOINT")
		if err != nil {
			return nil, err
		}
		key, secret, region := os.Getenv("TEST_S3_ACCESS_KEY"), os.Getenv("TEST_S3_SECRET_KEY"), os.Getenv("TEST_S3_REGION")
		if region == "" {
			region = "us-east-1"
		}
		c := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		return json.Marshal(map[string]string{"bucket": name, "region": region, "endpoint": endpoint, "access_key_id": key, "secret_access_key": secret})
	case "gcs":
		endpoint, err := env("TEST_GCS_ENDPOINT")
		if err != nil {
			return nil, err
		}
		c, err := storage.NewClient(ctx, option.WithEndpoint(endpoint+"/storage/v1/"), option.WithoutAuthentication())
		if err != nil {
			return nil, err
		}
		defer c.Close()
		if err := c.Bucket(name).Create(ctx, "wearbridge-demo", nil); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		return json.Marshal(map[string]string{"bucket": name, "endpoint": endpoint})
	case "azure_blob":
		conn, err := env("TEST_AZURE_CONNECTION_STRING")
		if err != nil {
			return nil, err
		}
		c, err := azblob.NewClientFromConnectionString(conn, nil)
		if err != nil {
			return nil, err
		}
		if _, err := c.CreateContainer(ctx, name, nil); err != nil {
			return nil, fmt.Errorf("create container %s: %w", name, err)
		}
		return json.Marshal(map[string]string{"connection_string": conn, "container": name})
	case "sqs":
		endpoint, err := env("TEST_SQS_ENDPOINT")
		if err != nil {
			return nil, err
		}
		c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
		out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("create queue %s: %w", name, err)
		}
		return json.Marshal(map[string]string{"queue_url": aws.ToString(out.QueueUrl), "region": "us-east-1", "endpoint": endpoint,
			"access_key_id": "test", "secret_access_key": "test"})
	case "kafka":
		brokers, err := env("TEST_KAFKA_BROKERS")
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"brokers": []string{brokers}, "topic": name, "create_topic": true})
	}
	return nil, errors.New("no emulator to provision for " + kind)
}
