#!/usr/bin/env bash
# Certificates for BuildKit over mutual TLS, made with Debian's openssl (EC P-256). Used by
# scripts/bootstrap for the machine's builder fleet and by the e2e tests for their faults.
# Private keys are written 0600 into 0700 directories; certificates are PEM.
#
#   pki.sh ca DIR                      DIR/ca.pem, DIR/ca-key.pem (a new CA)
#   pki.sh server DIR CA_DIR NAME ADDR DIR/NAME.pem + NAME-key.pem: serverAuth, SAN = ADDR (an IP or a DNS name)
#   pki.sh client DIR CA_DIR NAME      DIR/NAME.pem + NAME-key.pem: clientAuth
#   pki.sh expired DIR CA_DIR NAME     a client certificate that expired (valid 2020-01-01 .. 2020-01-02)
set -euo pipefail
umask 077

DAYS=3650

key_and_csr() { # DIR NAME
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1/$2-key.pem" -out "$1/$2.csr" 2>/dev/null
}

san_kind() { if [[ $1 =~ ^[0-9.]+$|: ]]; then echo IP; else echo DNS; fi; } # ADDR: IP or DNS

sign() { # DIR CA_DIR NAME EXTENSIONS
  local ext serial
  ext=$(mktemp) && printf '%s\n' "$4" >"$ext"
  serial=$(openssl rand -hex 8)
  openssl x509 -req -in "$1/$3.csr" -CA "$2/ca.pem" -CAkey "$2/ca-key.pem" -set_serial "0x$serial" -days $DAYS \
    -extfile "$ext" -out "$1/$3.pem" 2>/dev/null
  rm -f "$ext" "$1/$3.csr"
}

# `openssl x509` cannot backdate a certificate; `openssl ca` can (-startdate/-enddate).
sign_expired() { # DIR CA_DIR NAME
  local db
  db=$(mktemp -d)
  touch "$db/index.txt"
  cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = expired
[expired]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = client
[any]
commonName = supplied
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
EOF
  openssl rand -hex 8 >"$db/serial"
  openssl ca -batch -notext -config "$db/ca.cnf" -cert "$2/ca.pem" -keyfile "$2/ca-key.pem" \
    -startdate 20200101000000Z -enddate 20200102000000Z -in "$1/$3.csr" -out "$1/$3.pem" 2>/dev/null
  rm -rf "$db" "$1/$3.csr"
}

cmd=${1:-}
dir=${2:?usage: pki.sh ca|server|client|expired DIR [CA_DIR NAME [ADDR]]}
mkdir -p "$dir" && chmod 700 "$dir"
case $cmd in
  ca)
    now=$(date +%s)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $DAYS \
      -subj "/CN=pulumi-multiarch fleet CA $now" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null ;;
  server)
    key_and_csr "$dir" "$4"
    san=$(san_kind "$5")
    sign "$dir" "$3" "$4" "basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=$san:$5" ;;
  client)
    key_and_csr "$dir" "$4"
    sign "$dir" "$3" "$4" "basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth" ;;
  expired)
    key_and_csr "$dir" "$4"
    sign_expired "$dir" "$3" "$4" ;;
  *) echo "usage: pki.sh ca|server|client|expired DIR [CA_DIR NAME [ADDR]]" >&2; exit 2 ;;
esac
chmod 644 "$dir"/*.pem 2>/dev/null || true
chmod 600 "$dir"/*-key.pem
