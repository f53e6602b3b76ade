"""Registry of lab classes: class name -> service (server + client workload)."""
from .background import Finger, Iperf3, Modbus, Portmap, Socks
from .db import Memcached, Mysql, Postgres, Redis
from .directory import Ldap, Ldaps, Mqtt, Mqtts, Xmpp
from .desktop import Vnc
from .enterprise import Kerberos, Smb
from .legacy import Irc, Telnet
from .routing import Bgp
from .files import Dns, Ftp, Git, Rsync
from .remote import Dcerpc, Rdp
from .mail import Imap, Imaps, Pop3, Pop3s, Smtp, Smtps
from .ssh import Ssh
from .web import H2c, Http, Tls

REGISTRY = {}
for _cls in (Http, Tls, Ssh, Postgres, Mysql, Redis, Memcached, Ftp, Git, Rsync, Dns,
             Smtp, Smtps, Imap, Imaps, Pop3, Pop3s,
             Ldap, Ldaps, Mqtt, Mqtts, Xmpp, H2c,
             Telnet, Irc, Smb, Kerberos, Bgp, Vnc, Rdp, Dcerpc,
             Socks, Finger, Portmap, Modbus, Iperf3):
    REGISTRY[_cls.name] = _cls()
