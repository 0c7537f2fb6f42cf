/* The UDP server socket of lanboot_udp.c, exported by the lanboot_packet addon. */
#ifndef LANBOOT_UDP_H
#define LANBOOT_UDP_H
#include "napi_util.h"

/* Adds UdpSocket, udpBatch (datagrams per wake) and udpMeta (numbers per datagram) to exports. */
napi_status udp_init(napi_env env, napi_value exports);

#endif
