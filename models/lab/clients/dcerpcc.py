#!/usr/bin/env python3
"""DCE/RPC endpoint-mapper client: dcerpcc.py impacket|samba HOST DOMAIN USER PASSWORD SEED.

impacket: Impacket's own DCE/RPC stack on ncacn_ip_tcp:HOST[135]: binds the endpoint mapper (sometimes with NTLM
authentication), looks up endpoints or maps one interface (as a client does before it connects to the interface's
dynamic port), sometimes asks the management interface for its interface ids.
samba: Samba's Python bindings (source4 librpc): the same calls through samba.dcerpc.epmapper and mgmt, and
interface connections by binding string without a port (the library asks 135 for the port first).
"""
import random
import sys

mode, host, dom, user, pw, seed = sys.argv[1:7]
rng = random.Random(int(seed))
LSA = "12345778-1234-abcd-ef00-0123456789ab"
SAMR = "12345778-1234-abcd-ef00-0123456789ac"
NETLOGON = "12345678-1234-abcd-ef00-01234567cffb"
SRVSVC = "4b324fc8-1670-01d3-1278-5a47bf6ee188"


def impacket():
    from impacket.dcerpc.v5 import epm, mgmt, transport
    from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_PKT_INTEGRITY
    from impacket.uuid import uuidtup_to_bin

    rpct = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:{host}[135]")
    rpct.set_connect_timeout(20)
    auth = rng.random() < 0.3
    if auth:
        rpct.set_credentials(user, pw, dom)
    dce = rpct.get_dce_rpc()
    if auth:
        dce.set_auth_level(RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)
    dce.connect()
    what = rng.choice(["map", "map", "lookup", "mgmt"])
    if what == "mgmt":
        dce.bind(mgmt.MSRPC_UUID_MGMT)
        mgmt.hinq_if_ids(dce)
        if rng.random() < 0.5:
            mgmt.hinq_princ_name(dce)
    else:
        dce.bind(epm.MSRPC_UUID_PORTMAP)
        if what == "lookup":
            epm.hept_lookup(None, dce=dce)
        else:
            for iface in rng.sample([LSA, SAMR, NETLOGON, SRVSVC], rng.randint(1, 3)):
                try:
                    epm.hept_map(host, uuidtup_to_bin((iface, "1.0" if iface != NETLOGON else "1.0")),
                                 protocol="ncacn_ip_tcp", dce=dce)
                except Exception:
                    pass  # interface not registered on this server: the reply is still a real exchange
    dce.disconnect()


def samba():
    from samba import credentials, param
    from samba.dcerpc import epmapper, lsa, mgmt, misc  # noqa: F401

    lp = param.LoadParm()
    lp.set("client max protocol", "SMB3")
    creds = credentials.Credentials()
    creds.guess(lp)
    creds.set_username(user)
    creds.set_password(pw)
    creds.set_domain(dom)
    what = rng.choice(["mgmt", "epm", "lsa", "lsa"])
    if what == "mgmt":
        c = mgmt.mgmt(f"ncacn_ip_tcp:{host}[135]", lp)
        c.inq_if_ids()
        if rng.random() < 0.5:
            c.inq_stats(4, 0)
    elif what == "epm":
        c = epmapper.epmapper(f"ncacn_ip_tcp:{host}[135]", lp)
        h = misc.policy_handle()
        c.epm_Lookup(0, None, None, 0, h, rng.choice([1, 5, 20]))
    else:
        # no port in the binding: librpc maps lsarpc through the endpoint mapper on 135, then connects there
        opt = rng.choice(["", "[sign]", "[seal]"])
        c = lsa.lsarpc(f"ncacn_ip_tcp:{host}{opt}", lp, creds)
        attr = lsa.ObjectAttribute()
        h = c.OpenPolicy2("", attr, 0x00000801)  # VIEW_LOCAL_INFORMATION | LOOKUP_NAMES
        c.QueryInfoPolicy(h, lsa.LSA_POLICY_INFO_ACCOUNT_DOMAIN)
        c.Close(h)


(impacket if mode == "impacket" else samba)()
