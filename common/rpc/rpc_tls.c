/* rpc_tls.c -- TLS credentials for channels and servers from PEM files.
 * Files are read at open/start; a missing or unreadable file is reported
 * with its path. */
#include <errno.h>
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/rpc/rpc_internal.h"
#include "common/rpc/rpc_server.h"

#define PEM_MAX (1u << 20)

/* Reads a PEM file into a NUL-terminated heap string (caller frees). */
static qv_code read_pem(const char *path, const char *what, char **out,
                        qv_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qv_fail_errno(err, QV_E_IO, "cannot open tls %s '%s'", what,
                             path);
    char *buf = qv_xmalloc(PEM_MAX + 1);
    size_t n = fread(buf, 1, PEM_MAX + 1, f);
    int bad = ferror(f);
    (void)fclose(f);
    if (bad || n > PEM_MAX || n == 0) {
        free(buf);
        return qv_fail(err, QV_E_IO, "cannot read tls %s '%s': %s", what, path,
                       bad ? "read error"
                           : (n ? "larger than 1 MiB" : "empty file"));
    }
    if (!strstr(buf, "-----BEGIN ")) {
        free(buf);
        return qv_fail(err, QV_E_INVALID, "tls %s '%s' is not PEM", what, path);
    }
    buf[n] = '\0';
    *out = buf;
    return QV_OK;
}

/* Reads the optional cert/key pair; both or neither must be given. */
static qv_code read_pair(const char *cert, const char *key, char **cert_pem,
                         char **key_pem, qv_err *err)
{
    *cert_pem = *key_pem = NULL;
    if (!cert && !key)
        return QV_OK;
    if (!cert || !key)
        return qv_fail(err, QV_E_INVALID,
                       "tls needs both a certificate and a key file");
    qv_code rc = read_pem(cert, "certificate", cert_pem, err);
    if (rc == QV_OK && (rc = read_pem(key, "key", key_pem, err)) != QV_OK) {
        free(*cert_pem);
        *cert_pem = NULL;
    }
    return rc;
}

qv_code qv_rpc__channel_creds(const qv_rpc_tls *tls,
                              grpc_channel_credentials **out, qv_err *err)
{
    char *roots = NULL, *cert = NULL, *key = NULL;
    qv_code rc = QV_OK;
    if (tls->ca_file)
        rc = read_pem(tls->ca_file, "ca file", &roots, err);
    if (rc == QV_OK)
        rc = read_pair(tls->cert_file, tls->key_file, &cert, &key, err);
    if (rc == QV_OK) {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        *out = grpc_ssl_credentials_create_ex(roots, cert ? &pair : NULL, NULL,
                                              NULL);
        if (!*out)
            rc = qv_fail(err, QV_E_INVALID, "cannot create tls credentials");
    }
    free(roots);
    free(cert);
    free(key);
    return rc;
}

qv_code qv_rpc__server_creds(const qv_rpc_server_opts *o,
                             grpc_server_credentials **out, qv_err *err)
{
    if (!o->tls_cert_file && !o->tls_key_file) {
        if (o->tls_client_ca_file)
            return qv_fail(err, QV_E_INVALID,
                           "tls client ca file '%s' needs a server "
                           "certificate and key",
                           o->tls_client_ca_file);
        *out = grpc_insecure_server_credentials_create();
        return QV_OK;
    }
    char *cert, *key, *roots = NULL;
    qv_code rc = read_pair(o->tls_cert_file, o->tls_key_file, &cert, &key, err);
    if (rc != QV_OK)
        return rc;
    if (o->tls_client_ca_file)
        rc = read_pem(o->tls_client_ca_file, "client ca file", &roots, err);
    if (rc == QV_OK) {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        *out = grpc_ssl_server_credentials_create_ex(
            roots, &pair, 1,
            roots ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                  : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!*out)
            rc = qv_fail(err, QV_E_INVALID,
                         "cannot create tls server credentials from '%s'",
                         o->tls_cert_file);
    }
    free(cert);
    free(key);
    free(roots);
    return rc;
}
