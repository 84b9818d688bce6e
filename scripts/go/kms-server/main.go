// kms-server: an AWS KMS API on loopback for the tests, from github.com/nsmithuk/local-kms (keys
// in a LevelDB folder). The stacks the tests make keep their secrets with Pulumi's awskms secrets
// provider through it: opening a passphrase stack costs every Pulumi command 0.19 s of CPU
// (PBKDF2, 1,000,000 rounds, pulumi/sdk go/common/resource/config/crypt.go), a KMS stack one
// loopback request. This wrapper listens on the address given (local-kms's own main takes only a
// port, on every interface) and seeds one AES key, alias/pm-e2e, whose material is fixed and
// public: only the tests' throwaway stacks use it, as only they use the dev-only passphrase.
//
//	kms-server -addr 127.0.0.1:5090 -data DIR
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/cmk"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
	"gopkg.in/yaml.v2"
)

// The key, in local-kms's seed format (its cmk.AesKey reads it).
const seed = `
Metadata:
  KeyId: 6d1f7a4e-5b7c-4e55-9d0a-2b8f3c9e0e01
BackingKeys:
  - 7069756c756d692d6d756c7469617263682d746573742d6b65792d6e6f742d31
`

const alias = "alias/pm-e2e"

func main() {
	addr := flag.String("addr", "127.0.0.1:5090", "address to listen on")
	dir := flag.String("data", "", "folder of the key database")
	flag.Parse()
	if *dir == "" {
		log.Fatal("kms-server: give -data DIR")
	}
	config.AWSRegion = "us-east-1"
	config.AWSAccountId = "111122223333"
	config.DatabasePath = *dir
	db := data.NewDatabase(*dir)
	defer db.Close()

	var key cmk.AesKey
	if err := yaml.Unmarshal([]byte(seed), &key); err != nil {
		log.Fatalf("kms-server: the seed key: %v", err)
	}
	if _, err := db.LoadKey(key.GetArn()); err != nil {
		if err := db.SaveKey(&key); err != nil {
			log.Fatalf("kms-server: saving the key: %v", err)
		}
	}
	a := data.Alias{AliasName: alias, AliasArn: config.ArnPrefix() + alias, TargetKeyId: key.Metadata.KeyId}
	if _, err := db.LoadAlias(a.AliasArn); err != nil {
		if err := db.SaveAlias(&a); err != nil {
			log.Fatalf("kms-server: saving %s: %v", alias, err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { src.HandleRequest(w, r, db) })
	log.Printf("kms-server: %s on %s (data %s)", alias, *addr, *dir)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
