#!/usr/bin/env python3
"""tls_server.py DIR [ADDRESS...]: https and http servers on 127.0.0.1 for fetch tests.

Makes a test CA (DIR/ca.pem) in DIR with Python's cryptography package and serves
DIR/www (created, empty, for the caller to fill) from one server per certificate kind:

  good        signed by the test CA, for localhost, 127.0.0.1 and each ADDRESS (IP entries)
  expired     the same names, signed by the CA, valid until yesterday
  wrongname   signed by the CA, for other.example only
  selfsigned  the good names, signed by itself
  http        plain http

Each server answers GET like http.server (Content-Length set), plus three paths for the
client's framing and redirects: /chunked/NAME (the file in chunked coding), /cut/NAME (a
Content-Length larger than what is sent), /redirect/PATH (302 to /PATH on the same
server) and /redirect-http/PATH (302 to the http server's /PATH). When all listen it
writes "KIND PORT" lines to DIR/ports (renamed into place), then serves until killed.
Also importable: start(DIR, addresses) returns the ports and a stop function.
"""
import datetime
import http.server
import os
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress

KINDS = ("good", "expired", "wrongname", "selfsigned")


def _name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject, key, issuer, issuer_key, names, days, ca=False):
    now = datetime.datetime.utcnow()
    start, end = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)) \
        if days > 0 else (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        entries = []
        for n in names:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                entries.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(directory, name, certificate, key):
    with open(os.path.join(directory, name + ".pem"), "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, name + ".key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def make_certificates(directory, addresses):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("rescue test CA", ca_key, "rescue test CA", ca_key, None, 30, ca=True)
    _pem(directory, "ca", ca, ca_key)
    names = ["localhost", "127.0.0.1"] + list(addresses)
    plan = {"good": (names, 30, False), "expired": (names, -1, False),
            "wrongname": (["other.example"], 30, False), "selfsigned": (names, 30, True)}
    for kind, (kind_names, days, self_signed) in plan.items():
        key = ec.generate_private_key(ec.SECP256R1())
        subject = kind_names[0]
        if self_signed:
            cert = _certificate(subject, key, subject, key, kind_names, days)
        else:
            cert = _certificate(subject, key, "rescue test CA", ca_key, kind_names, days)
        _pem(directory, kind, cert, key)


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    http_port = 0

    def log_message(self, *args):
        pass

    def _file(self, name):
        path = os.path.join(self.directory, name.lstrip("/"))
        with open(path, "rb") as f:
            return f.read()

    def do_GET(self):
        self.close_connection = True
        if self.path.startswith("/redirect/") or self.path.startswith("/redirect-http/"):
            rest = self.path.split("/", 2)[2]
            target = "/" + rest if self.path.startswith("/redirect/") \
                else "http://127.0.0.1:%d/%s" % (Handler.http_port, rest)
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        for prefix in ("/chunked/", "/cut/"):
            if self.path.startswith(prefix):
                try:
                    data = self._file(self.path[len(prefix):])
                except OSError:
                    self.send_error(404)
                    return
                self.send_response(200)
                if prefix == "/chunked/":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(data), 5):
                        piece = data[i:i + 5]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(data) + 100))
                    self.end_headers()
                    self.wfile.write(data)
                return
        super().do_GET()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, context):
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context

    def get_request(self):
        client, address = self.socket.accept()
        if self.context is not None:
            client.settimeout(10)
            client = self.context.wrap_socket(client, server_side=True)
        return client, address

    def handle_error(self, request, client_address):
        pass    # a refused handshake is the test's point, not an error


def start(directory, addresses=()):
    """Certificates, www/ and the servers; returns ({kind: port}, stop)."""
    www = os.path.join(directory, "www")
    os.makedirs(www, exist_ok=True)
    make_certificates(directory, addresses)

    def handler(*args, **kwargs):
        return Handler(*args, directory=www, **kwargs)

    servers = {"http": Server(handler, None)}
    Handler.http_port = servers["http"].server_address[1]
    for kind in KINDS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(directory, kind + ".pem"),
                                os.path.join(directory, kind + ".key"))
        servers[kind] = Server(handler, context)
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        for server in servers.values():
            server.shutdown()
            server.server_close()
    return {kind: server.server_address[1] for kind, server in servers.items()}, stop


def main():
    directory = sys.argv[1]
    ports, _ = start(directory, sys.argv[2:])
    with open(os.path.join(directory, "ports.new"), "w") as f:
        for kind, port in ports.items():
            f.write("%s %d\n" % (kind, port))
    os.rename(os.path.join(directory, "ports.new"), os.path.join(directory, "ports"))
    threading.Event().wait()


if __name__ == "__main__":
    main()
