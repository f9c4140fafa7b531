/* proxy_session.c -- the proxy's session "<root>session/proxy-<id>", kept
 * (common/session/kept_session.h): a lost session, e.g. after meta KV was
 * unreachable for longer than the TTL, is replaced by a new one (new id),
 * so the proxy never stays invisible to the coord.  The time tick reports
 * name the current key (proxy_tt.c). */
#include "proxy/proxy_int.h"

qv_code qv_proxy__session_start(qv_proxy *p, qv_err *err)
{
    char addr[300];
    qv_rpc_server_advertise(p->srv, p->advertise, addr, sizeof addr);
    qv_kept_session_options o = {.kv = p->opts.kv,
                                 .root = p->meta_root,
                                 .role = "proxy",
                                 .address = addr,
                                 .ttl_s = p->opts.session_ttl_s};
    return qv_kept_session_start(&o, &p->session, err);
}

void qv_proxy__session_stop(qv_proxy *p)
{
    qv_kept_session_stop(p->session);
    p->session = NULL;
}
