#!/usr/bin/env python3
"""paho-mqtt session: mqttc.py HOST PORT TLS SEED [USER PASSWORD [V311]] (connect, subscribe, publish, disconnect)."""
import random
import ssl
import sys
import time

import paho.mqtt.client as mqtt

host, port, tls, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
rng = random.Random(seed)
c = mqtt.Client(client_id=f"py-{rng.randrange(10**6)}", clean_session=rng.random() < 0.7,
                protocol=rng.choice([mqtt.MQTTv311, mqtt.MQTTv31]) if len(sys.argv) < 8 else mqtt.MQTTv311)
if len(sys.argv) >= 7:
    c.username_pw_set(sys.argv[5], sys.argv[6])
if tls:
    c.tls_set(cert_reqs=ssl.CERT_NONE)
    c.tls_insecure_set(True)
if rng.random() < 0.3:
    c.will_set("status/py", "offline", qos=1, retain=True)
c.connect(host, port, keepalive=rng.choice([15, 60, 120]))
c.loop_start()
if rng.random() < 0.5:
    c.subscribe([("cmd/#", rng.choice([0, 1])), ("home/+/set", 0)][: rng.randint(1, 2)])
for _ in range(rng.randint(1, 15)):
    c.publish(rng.choice(["telemetry/py", "home/kitchen/temp", "log"]),
              "%.2f" % rng.uniform(0, 100) if rng.random() < 0.6 else "y" * rng.randint(1, 2000),
              qos=rng.choice([0, 0, 1, 2])).wait_for_publish(10)
    time.sleep(rng.choice([0, 0, 0.05, 0.2]))
c.disconnect()
c.loop_stop()
