#include "cluster/cluster_configs.h"

#include "absl/strings/str_cat.h"

namespace mecai {

std::string ClusterPath(const std::string& workdir, const std::string& name) {
  return workdir + "/" + name;
}

ClusterIdentity ClusterIdentityFiles(const std::string& workdir, const std::string& name) {
  return ClusterIdentity{ClusterPath(workdir, "internal/" + name + ".pem"),
                         ClusterPath(workdir, "internal/" + name + ".key")};
}

v1::PeerConfig ClusterPeer(const std::string& workdir, const std::string& server_name, int port,
                           const ClusterIdentity& client) {
  v1::PeerConfig config;
  config.set_address(absl::StrCat("127.0.0.1:", port));
  config.mutable_tls()->set_certificate_file(client.certificate_file);
  config.mutable_tls()->set_private_key_file(client.key_file);
  config.mutable_tls()->set_server_ca_file(ClusterPath(workdir, "internal/ca.pem"));
  config.mutable_tls()->set_server_identity(server_name);
  return config;
}

v1::ServerTls ClusterServerTls(const std::string& workdir, const ClusterIdentity& identity,
                               const std::string& client) {
  v1::ServerTls tls;
  tls.set_certificate_file(identity.certificate_file);
  tls.set_private_key_file(identity.key_file);
  tls.set_client_ca_file(ClusterPath(workdir, "internal/ca.pem"));
  tls.add_allowed_client_identities(client);
  return tls;
}

v1::Pkcs11Config ClusterVaKeyPkcs11(const std::string& workdir, const std::string& module_path) {
  v1::Pkcs11Config pkcs11;
  pkcs11.set_module_path(module_path);
  pkcs11.set_token_label(kClusterTokenLabel);
  pkcs11.set_pin_file(ClusterPath(workdir, "hsm/user.pin"));
  pkcs11.set_key_label(kClusterVaKeyLabel);
  return pkcs11;
}

std::string ClusterHostsFile(const std::map<std::string, std::vector<std::string>>& extra_hosts) {
  std::string hosts = absl::StrCat("127.0.0.1 ", kClusterTargetHost, "\n");
  for (const auto& [hostname, addresses] : extra_hosts) {
    for (const std::string& address : addresses) {
      absl::StrAppend(&hosts, address, " ", hostname, "\n");
    }
  }
  return hosts;
}

std::string ClusterNginxConfig(const std::string& workdir, const std::string& target_listen_address,
                               int crl_port, int target_port, bool as_root,
                               bool with_rsa_certificate) {
  const std::string root = ClusterPath(workdir, "crl");
  return absl::StrCat(
      "worker_processes 1;\nerror_log stderr;\npid ", ClusterPath(workdir, "run/nginx.pid"), ";\n",
      as_root ? "user root root;\n" : "",
      // Every agent's probes at once, for benchmarks with hundreds of VRs in flight
      // (docs/PERFORMANCE.md "End-to-end vouching on loopback").
      "worker_rlimit_nofile 8192;\nevents { worker_connections 4096; }\n",
      "http {\n  access_log off;\n  client_body_temp_path ", root, "/tmp-body;\n",
      "  proxy_temp_path ", root, "/tmp-proxy;\n  fastcgi_temp_path ", root, "/tmp-fastcgi;\n",
      "  uwsgi_temp_path ", root, "/tmp-uwsgi;\n  scgi_temp_path ", root, "/tmp-scgi;\n",
      "  types { application/pkix-crl crl; }\n  server {\n    listen 127.0.0.1:", crl_port,
      " reuseport;\n    root ", root, ";\n  }\n",
      // The TLS target: the server certificate and its chain (nginx wants them in one file).
      "  server {\n    listen ", target_listen_address, ":", target_port,
      " ssl reuseport;\n    server_name ", kClusterTargetHost, ";\n    ssl_certificate ",
      ClusterPath(workdir, "pki/server.pem"), ";\n    ssl_certificate_key ",
      ClusterPath(workdir, "pki/server.key"), ";\n",
      with_rsa_certificate
          ? absl::StrCat("    ssl_certificate ", ClusterPath(workdir, "pki/server-rsa.pem"),
                         ";\n    ssl_certificate_key ", ClusterPath(workdir, "pki/server-rsa.key"),
                         ";\n")
          : std::string(),
      "    return 200 \"MECAI demo target\\n\";\n  }\n}\n");
}

v1::ProbeAgentConfig ClusterAgentConfig(const std::string& workdir, const std::string& id,
                                        const std::string& region, const AgentPlacement* placement,
                                        int dns_port) {
  v1::ProbeAgentConfig config;
  config.mutable_listen()->set_address(
      absl::StrCat(placement != nullptr ? placement->address : "127.0.0.1", ":0"));
  config.mutable_listen()->set_port_file(ClusterPath(workdir, "run/" + id + ".port"));
  config.mutable_listen()->set_metrics_address("127.0.0.1:0");
  config.mutable_listen()->set_metrics_port_file(
      ClusterPath(workdir, "run/" + id + ".metrics-port"));
  *config.mutable_listen()->mutable_tls() =
      ClusterServerTls(workdir, ClusterIdentityFiles(workdir, id), "coordinator");
  config.mutable_perspective()->set_id(id);
  config.mutable_perspective()->set_region(region);
  config.set_signing_key_file(ClusterPath(workdir, "agents/" + id + "-observation.key"));
  if (placement != nullptr) {
    config.mutable_resolver()->add_nameservers(placement->nameserver);
    config.add_allowed_special_address_ranges(placement->allowed_range);
  } else {
    config.mutable_resolver()->add_nameservers(absl::StrCat("127.0.0.1:", dns_port));
    // The demo's target lives on loopback, which agents refuse by default (trust rule 6).
    config.add_allowed_special_address_ranges("127.0.0.0/8");
  }
  return config;
}

v1::AgentEndpoint ClusterAgentEndpoint(const std::string& workdir, const std::string& id,
                                       const std::string& region, const AgentPlacement* placement,
                                       int port) {
  v1::AgentEndpoint endpoint;
  endpoint.mutable_perspective()->set_id(id);
  endpoint.mutable_perspective()->set_region(region);
  *endpoint.mutable_peer() =
      ClusterPeer(workdir, id, port, ClusterIdentityFiles(workdir, "coordinator"));
  if (placement != nullptr) {
    endpoint.mutable_peer()->set_address(absl::StrCat(placement->address, ":", port));
  }
  endpoint.set_public_key_file(ClusterPath(workdir, "agents/" + id + "-observation.pub"));
  return endpoint;
}

v1::TrustListConfig ClusterTrustList(const std::string& workdir, bool require_approval) {
  v1::TrustListConfig trust_list;
  trust_list.set_name(require_approval ? kClusterApprovalTrustList : kClusterTrustList);
  trust_list.set_pem_file(ClusterPath(workdir, "pki/root-ca.pem"));
  if (require_approval) trust_list.set_require_issuance_approval(true);
  return trust_list;
}

v1::VaList ClusterVaList(const std::string& workdir, const std::string& va_spki_sha256) {
  v1::VaList va_list;
  v1::VaListEntry* entry = va_list.add_vas();
  entry->set_id(kClusterVaId);
  entry->set_operator_("MECAI Demo CA");
  entry->set_ca_certificate_file(ClusterPath(workdir, "pki/root-ca.pem"));
  // The VA certificate's key names this VA (docs/VOUCHING_DATA.md §4).
  entry->add_va_spki_sha256(va_spki_sha256);
  entry->set_log_public_key_file(ClusterPath(workdir, "pki/log-key.pub.pem"));
  return va_list;
}

v1::SignerConfig ClusterSignerConfig(const std::string& workdir, const std::string& module_path,
                                     const std::vector<v1::AgentEndpoint>& agents,
                                     bool with_approval) {
  v1::SignerConfig signer;
  signer.mutable_listen()->set_address("127.0.0.1:0");
  signer.mutable_listen()->set_port_file(ClusterPath(workdir, "run/signer.port"));
  signer.mutable_listen()->set_metrics_address("127.0.0.1:0");
  signer.mutable_listen()->set_metrics_port_file(ClusterPath(workdir, "run/signer.metrics-port"));
  *signer.mutable_listen()->mutable_tls() =
      ClusterServerTls(workdir, ClusterIdentityFiles(workdir, "signer"), "coordinator");
  signer.set_va_id(kClusterVaId);
  *signer.mutable_pkcs11() = ClusterVaKeyPkcs11(workdir, module_path);
  signer.set_log_key_label(kClusterLogKeyLabel);
  signer.set_log_origin_prefix(kClusterLogOriginPrefix);
  signer.set_log_state_file(ClusterPath(workdir, "store/signer-log-state.pb"));
  signer.set_va_certificate_chain_file(ClusterPath(workdir, "pki/va.pem"));
  signer.set_ca_certificate_file(ClusterPath(workdir, "pki/root-ca.pem"));
  // The signer applies only trust-list changes the maintainer's key signed, and keeps them
  // (docs/PROTOCOL.md "Trust-list changes").
  signer.set_trust_list_changes_file(ClusterPath(workdir, "store/signer-trust-list-changes.pb"));
  signer.add_trust_list_maintainer_key_files(ClusterPath(workdir, "trust-list/maintainer.pub"));
  for (const v1::AgentEndpoint& endpoint : agents) {
    v1::AgentEndpoint* agent = signer.add_agents();
    *agent->mutable_perspective() = endpoint.perspective();
    agent->set_public_key_file(endpoint.public_key_file());
  }
  *signer.add_trust_lists() = ClusterTrustList(workdir, /*require_approval=*/false);
  if (with_approval) {
    *signer.add_trust_lists() = ClusterTrustList(workdir, /*require_approval=*/true);
    signer.set_approval_public_key_file(ClusterPath(workdir, "approval/records.pub"));
  }
  return signer;
}

v1::SignerConfig ClusterSecondSignerConfig(const std::string& workdir,
                                           const v1::SignerConfig& first) {
  v1::SignerConfig second = first;
  second.mutable_listen()->set_port_file(ClusterPath(workdir, "run/signer-2.port"));
  second.mutable_listen()->set_metrics_port_file(ClusterPath(workdir, "run/signer-2.metrics-port"));
  second.set_log_state_file(ClusterPath(workdir, "store/signer-2-log-state.pb"));
  second.set_trust_list_changes_file(ClusterPath(workdir, "store/signer-2-trust-list-changes.pb"));
  return second;
}

v1::CoordinatorConfig ClusterCoordinatorConfig(const std::string& workdir,
                                               const ClusterCoordinatorInputs& inputs) {
  const ClusterIdentity identity = ClusterIdentityFiles(workdir, "coordinator");
  v1::CoordinatorConfig coordinator;
  coordinator.mutable_listen()->set_address("127.0.0.1:0");
  coordinator.mutable_listen()->set_port_file(ClusterPath(workdir, "run/coordinator.port"));
  coordinator.mutable_listen()->set_metrics_address("127.0.0.1:0");
  coordinator.mutable_listen()->set_metrics_port_file(
      ClusterPath(workdir, "run/coordinator.metrics-port"));
  *coordinator.mutable_listen()->mutable_tls() = ClusterServerTls(workdir, identity, "stapler");
  coordinator.mutable_listen()->mutable_tls()->add_allowed_client_identities("admin");
  coordinator.add_admin_identities("admin");
  coordinator.add_trust_list_maintainer_key_files(
      ClusterPath(workdir, "trust-list/maintainer.pub"));
  coordinator.set_log_shard_id(kClusterShardId);
  coordinator.set_store_path(ClusterPath(workdir, "store/coordinator"));
  // The CRL is served on loopback, which the coordinator refuses to fetch from by default.
  coordinator.mutable_revocation()->add_allowed_special_address_ranges("127.0.0.0/8");
  if (inputs.max_probe_rounds_per_hostname > 0) {
    coordinator.set_max_probe_rounds_per_hostname(inputs.max_probe_rounds_per_hostname);
  }
  *coordinator.add_trust_lists() = ClusterTrustList(workdir, /*require_approval=*/false);
  if (inputs.approval_port != 0) {
    *coordinator.add_trust_lists() = ClusterTrustList(workdir, /*require_approval=*/true);
    *coordinator.mutable_approval_service() =
        ClusterPeer(workdir, "approval", inputs.approval_port, identity);
  }
  for (const v1::AgentEndpoint& endpoint : inputs.agents) *coordinator.add_agents() = endpoint;
  if (!inputs.signer_ports.empty()) {
    *coordinator.mutable_signer() =
        ClusterPeer(workdir, "signer", inputs.signer_ports.front(), identity);
  }
  if (inputs.signer_ports.size() > 1) {
    for (int port : inputs.signer_ports) {
      coordinator.add_signer_replica_addresses(absl::StrCat("127.0.0.1:", port));
    }
  }
  coordinator.set_disable_decision_reuse(!inputs.decision_reuse);
  if (inputs.serves_fronts) {
    coordinator.mutable_listen()->mutable_tls()->add_allowed_client_identities("front");
    coordinator.add_front_identities("front");
  }
  v1::PublicListenConfig* endpoint = coordinator.mutable_public_listen();
  endpoint->set_address("127.0.0.1:0");
  endpoint->set_port_file(ClusterPath(workdir, "run/coordinator-public.port"));
  endpoint->set_http_address("127.0.0.1:0");
  endpoint->set_http_port_file(ClusterPath(workdir, "run/coordinator-public-http.port"));
  endpoint->set_certificate_file(identity.certificate_file);
  endpoint->set_private_key_file(identity.key_file);
  endpoint->MergeFrom(inputs.public_endpoint_limits);
  return coordinator;
}

v1::CoordinatorConfig ClusterFrontConfig(const std::string& workdir,
                                         const v1::CoordinatorConfig& sequencer, int sequencer_port,
                                         const std::string& front_id) {
  const ClusterIdentity identity = ClusterIdentityFiles(workdir, "front");
  v1::CoordinatorConfig front = sequencer;
  for (auto clear :
       {&v1::CoordinatorConfig::clear_store_path, &v1::CoordinatorConfig::clear_log_shard_id,
        &v1::CoordinatorConfig::clear_signer,
        &v1::CoordinatorConfig::clear_signer_replica_addresses,
        &v1::CoordinatorConfig::clear_store_backup, &v1::CoordinatorConfig::clear_witnesses,
        &v1::CoordinatorConfig::clear_batch_interval_milliseconds,
        &v1::CoordinatorConfig::clear_admin_identities,
        &v1::CoordinatorConfig::clear_trust_list_maintainer_key_files,
        &v1::CoordinatorConfig::clear_front_identities}) {
    (front.*clear)();
  }
  // The fronts' own identity, which the signer does not accept (ARCHITECTURE.md §14).
  *front.mutable_sequencer() = ClusterPeer(workdir, "coordinator", sequencer_port, identity);
  for (v1::AgentEndpoint& agent : *front.mutable_agents()) {
    agent.mutable_peer()->mutable_tls()->set_certificate_file(identity.certificate_file);
    agent.mutable_peer()->mutable_tls()->set_private_key_file(identity.key_file);
  }
  if (front.has_approval_service()) {
    front.mutable_approval_service()->mutable_tls()->set_certificate_file(
        identity.certificate_file);
    front.mutable_approval_service()->mutable_tls()->set_private_key_file(identity.key_file);
  }
  v1::ListenConfig& listen = *front.mutable_listen();
  *listen.mutable_tls() = ClusterServerTls(workdir, identity, "stapler");
  listen.set_port_file(ClusterPath(workdir, "run/" + front_id + ".port"));
  listen.set_metrics_port_file(ClusterPath(workdir, "run/" + front_id + ".metrics-port"));
  listen.clear_health_address();
  if (front.has_public_listen()) {
    v1::PublicListenConfig& endpoint = *front.mutable_public_listen();
    endpoint.set_port_file(ClusterPath(workdir, "run/" + front_id + "-public.port"));
    endpoint.set_http_port_file(ClusterPath(workdir, "run/" + front_id + "-public-http.port"));
    endpoint.set_certificate_file(identity.certificate_file);
    endpoint.set_private_key_file(identity.key_file);
  }
  return front;
}

v1::ApprovalConfig ClusterApprovalConfig(const std::string& workdir,
                                         const std::string& rdap_base_url,
                                         const std::string& voice_gateway_url) {
  const ClusterIdentity server = ClusterIdentityFiles(workdir, "approval");
  v1::ApprovalConfig config;
  config.mutable_listen()->set_address("127.0.0.1:0");
  config.mutable_listen()->set_port_file(ClusterPath(workdir, "run/approval.port"));
  config.mutable_listen()->set_metrics_address("127.0.0.1:0");
  config.mutable_listen()->set_metrics_port_file(ClusterPath(workdir, "run/approval.metrics-port"));
  v1::ServerTls* tls = config.mutable_listen()->mutable_tls();
  tls->set_certificate_file(server.certificate_file);
  tls->set_private_key_file(server.key_file);
  tls->set_client_ca_file(ClusterPath(workdir, "internal/ca.pem"));
  tls->add_allowed_client_identities("coordinator");
  tls->add_allowed_client_identities("ca-frontend");
  config.set_web_address("127.0.0.1:0");
  config.set_web_port_file(ClusterPath(workdir, "run/approval.web-port"));
  config.set_store_path(ClusterPath(workdir, "store/approval"));
  (*config.mutable_rdap_base_urls())["test"] = rdap_base_url;
  config.set_voice_gateway_url(voice_gateway_url);
  config.set_approval_site_url("http://certapproval.mecai.test/");
  config.set_certificate_authority_name("MECAI Demo CA");
  // The registry and the gateway are on loopback (trust rule 6 refuses it by default), over
  // plain http.
  config.add_allowed_special_address_ranges("127.0.0.0/8");
  config.set_allow_http_for_testing(true);
  config.set_signing_key_file(ClusterPath(workdir, "approval/records.key"));
  return config;
}

}  // namespace mecai
