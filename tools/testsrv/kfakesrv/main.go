// Command kfakesrv runs franz-go's kfake, an in-memory cluster that speaks
// the Kafka wire protocol, as its own process for the test suite
// (scripts/test-servers starts it). It listens on loopback and stops on
// SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 59092, "first broker port (brokers use consecutive ports)")
	n := flag.Int("brokers", 1, "number of brokers")
	flag.Parse()

	ports := make([]int, *n)
	for i := range ports {
		ports[i] = *port + i
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(*n),
		kfake.Ports(ports...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(3),
	)
	if err != nil {
		log.Fatalf("kfakesrv: start cluster: %v", err)
	}
	fmt.Println("kfake listening on", c.ListenAddrs())

	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
	c.Close()
}
