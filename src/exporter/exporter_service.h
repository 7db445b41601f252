/* exporter_service.h - the block exporter's gRPC service (TOML service_config): what the
 * shards of its validator push NewBlock notifications to.
 *
 * Serves rpc.v1.NotifierService/NotifyBatch (the reference's exporter service) and the
 * standard health check. A batch is handed to mc_exporter_notify, with its `dropped`
 * count; a malformed batch is answered INVALID_ARGUMENT and changes nothing. The handler
 * only records and queues (no network call), so a shard's feed is never held up by a slow
 * destination.
 *
 * Ownership: the exporter is borrowed and must outlive the service. mc_rpc_init must have
 * been called. */
#ifndef MC_EXPORTER_EXPORTER_SERVICE_H
#define MC_EXPORTER_EXPORTER_SERVICE_H

#include "exporter/exporter.h"
#include "rpc/rpc.h"

typedef struct mc_exporter_service mc_exporter_service;

/* Binds `listen` ("host:port"; port 0 picks one). NULL with err (MC_ERR_IO) if it cannot. */
mc_exporter_service *mc_exporter_service_new(mc_exporter *e, const char *listen, mc_error *err);
/* The bound port. */
int mc_exporter_service_port(const mc_exporter_service *s);
/* Starts serving. False if already started or the server cannot start. */
bool mc_exporter_service_start(mc_exporter_service *s);
/* Health NOT_SERVING, then stops (in-flight batches get grace_ms). Idempotent. */
void mc_exporter_service_shutdown(mc_exporter_service *s, int grace_ms);
/* Shuts down if needed and frees. NULL is a no-op. */
void mc_exporter_service_free(mc_exporter_service *s);

#endif
