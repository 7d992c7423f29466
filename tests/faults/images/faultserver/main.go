// faultserver: a tiny static HTTP server (and probe client) for the fault tests' containers.
//
//	faultserver serve :8080      answers GET / with "ok <hostname>\n"
//	faultserver probe URL        GETs URL once (2 s timeout); prints the body or the error
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: faultserver serve ADDR | probe URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %s\n", host)
		})
		if err := http.ListenAndServe(os.Args[2], nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "probe":
		client := http.Client{Timeout: 2 * time.Second}
		resp, err := client.Get(os.Args[2])
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(string(body))
	default:
		os.Exit(2)
	}
}
