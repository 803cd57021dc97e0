#!/bin/sh
# mkcerts.sh DIR: the certificates the TLS tests use, made with openssl:
#   ca.pem             the test CA (tls_ca of the tests)
#   good.pem/.key      dns.test, 127.0.0.1, ::1; valid for 30 days
#   expired.pem/.key   the same names; expired on 2020-01-02
#   other.pem/.key     other.test only (a wrong name for everything else)
#   unknown.pem/.key   the right names, from a CA nobody trusts
# Each server certificate file holds the leaf only (no chain).
# MKCERTS_SAN_EXTRA="IP:192.0.2.53,..." adds names to the good, expired and
# unknown certificates (the lab's service addresses).
set -e
d=$1
[ -n "$d" ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$d/ca"
cd "$d"
SAN_GOOD="DNS:dns.test,IP:127.0.0.1,IP:::1${MKCERTS_SAN_EXTRA:+,$MKCERTS_SAN_EXTRA}"

ca() { # NAME SUBJECT
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() { # NAME CA SAN [STARTDATE ENDDATE]
	cn=${3%%,*}
	cn=${cn#DNS:}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$cn" 2>/dev/null
	: > ca/index.txt
	echo 01 > ca/serial
	cat > ca/ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = ca
database = ca/index.txt
serial = ca/serial
new_certs_dir = ca
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $3
CNF
	if [ -n "$4" ]; then
		dates="-startdate $4 -enddate $5"
	else
		dates="-days 30"
	fi
	# shellcheck disable=SC2086
	openssl ca -batch -config ca/ca.cnf -cert "$2.pem" -keyfile "$2.key" \
		-in "$1.csr" -out "$1.pem" -notext $dates 2>/dev/null
	rm -f "$1.csr"
}

ca ca "anycast-probe test CA"
ca ca2 "anycast-probe unknown CA"
leaf good ca "$SAN_GOOD"
leaf expired ca "$SAN_GOOD" 20200101000000Z 20200102000000Z
leaf other ca "DNS:other.test"
leaf unknown ca2 "$SAN_GOOD"
chmod 0644 ./*.key
