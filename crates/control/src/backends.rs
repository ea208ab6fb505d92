//! Backend resolution: an Ingress's `service: {name, port}` → the ready endpoints.
//!
//! 1. The Service `namespace/name` must exist (else an error; the backend has no endpoints and
//!    its routes answer 503).
//! 2. The Ingress names a Service port by number (`port.number` = `ServicePort.port`) or by
//!    name (`port.name` = `ServicePort.name`).
//! 3. The EndpointSlices labelled `kubernetes.io/service-name=<name>` in the namespace carry
//!    the endpoints. In each slice, the port is the slice port with the Service port's name
//!    (the EndpointSlice controller copies it; unnamed ↔ unnamed); among several unnamed ones,
//!    the one whose number equals a numeric `targetPort`. A slice written without any ports
//!    (hand-written manifests) uses a numeric `targetPort`, else the Service port.
//! 4. Endpoints whose `conditions.ready` is not `false` count (nil means ready, per the API).
//!    `FQDN` slices are not supported. Addresses are de-duplicated and sorted so snapshots are
//!    deterministic.
//!
//! Results are cached per [`BackendKey`] for one translation, so every route to the same
//! Service port shares one [`Backend`] (and its round-robin cursor).

use foldhash::{HashMap, HashMapExt};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::IngressServiceBackend;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use portcullis_snapshot::{Backend, BackendKey};

use crate::diagnostics::Severity;
use crate::objects::{ObjectSet, label, namespace_of};

/// Label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A resolved backend and what to report about it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub backend: Arc<Backend>,
    pub notes: Vec<(Severity, String)>,
}

/// Resolves Ingress backends against one [`ObjectSet`], caching per Service port.
#[derive(Debug)]
pub struct BackendResolver<'a> {
    services: HashMap<(&'a str, &'a str), &'a Service>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    cache: HashMap<(&'a str, &'a str, PortRef<'a>), Resolved>,
}

/// The Service port as an Ingress names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PortRef<'a> {
    Number(i32),
    Name(&'a str),
    Unset,
}

impl<'a> BackendResolver<'a> {
    pub fn new(objects: &'a ObjectSet) -> Self {
        let mut services = HashMap::with_capacity(objects.services.len());
        for svc in &objects.services {
            if let Some(name) = svc.metadata.name.as_deref() {
                services.insert((namespace_of(&svc.metadata), name), &**svc);
            }
        }
        let mut slices: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
        for slice in &objects.endpoint_slices {
            if let Some(svc) = label(&slice.metadata, SERVICE_NAME_LABEL) {
                slices
                    .entry((namespace_of(&slice.metadata), svc))
                    .or_default()
                    .push(slice);
            }
        }
        BackendResolver {
            services,
            slices,
            cache: HashMap::new(),
        }
    }

    /// The backend for `service` in `namespace` (cached; a cache hit allocates nothing).
    pub fn resolve(&mut self, namespace: &'a str, service: &'a IngressServiceBackend) -> &Resolved {
        let port = service.port.as_ref();
        let port_ref = match (
            port.and_then(|p| p.number),
            port.and_then(|p| p.name.as_deref()),
        ) {
            (Some(n), _) => PortRef::Number(n),
            (None, Some(name)) => PortRef::Name(name),
            (None, None) => PortRef::Unset,
        };
        let key = (namespace, service.name.as_str(), port_ref);
        if !self.cache.contains_key(&key) {
            let (endpoints, notes) = self.endpoints(namespace, service);
            let backend_key = BackendKey {
                namespace: namespace.to_string(),
                service: service.name.clone(),
                port: match port_ref {
                    PortRef::Number(n) => n.to_string(),
                    PortRef::Name(name) => name.to_string(),
                    PortRef::Unset => String::new(),
                },
            };
            let backend = Arc::new(Backend::new(backend_key, endpoints));
            self.cache.insert(key, Resolved { backend, notes });
        }
        &self.cache[&key]
    }

    fn endpoints(
        &self,
        namespace: &str,
        backend: &IngressServiceBackend,
    ) -> (Vec<SocketAddr>, Vec<(Severity, String)>) {
        let mut notes = Vec::new();
        let name = backend.name.as_str();
        let error = |reason: String| (Vec::new(), vec![(Severity::Error, reason)]);
        let Some(svc) = self.services.get(&(namespace, name)) else {
            return error(format!(
                "Service {namespace}/{name} not found: its routes answer 503"
            ));
        };
        let spec = svc.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            return error(format!(
                "Service {namespace}/{name} is of type ExternalName, which is not supported: its routes answer 503"
            ));
        }
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
        let wanted = backend.port.as_ref();
        let found = match (
            wanted.and_then(|p| p.number),
            wanted.and_then(|p| p.name.as_deref()),
        ) {
            (Some(n), _) => ports.iter().find(|p| p.port == n),
            (None, Some(port_name)) => ports.iter().find(|p| p.name.as_deref() == Some(port_name)),
            (None, None) => {
                return error(format!(
                    "backend Service {namespace}/{name} names no port (port.number or port.name)"
                ));
            }
        };
        let Some(service_port) = found else {
            let wanted = wanted
                .and_then(|p| p.number.map(|n| n.to_string()).or(p.name.clone()))
                .unwrap_or_default();
            return error(format!(
                "Service {namespace}/{name} has no port {wanted}: its routes answer 503"
            ));
        };
        if service_port.protocol.as_deref().is_some_and(|p| p != "TCP") {
            return error(format!(
                "Service {namespace}/{name} port {wanted:?} is not TCP",
                wanted = service_port.port
            ));
        }
        let mut endpoints = Vec::new();
        let slices = self
            .slices
            .get(&(namespace, name))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for slice in slices {
            if slice.address_type == "FQDN" {
                notes.push((
                    Severity::Warning,
                    format!(
                        "EndpointSlice {namespace}/{}: addressType FQDN is not supported: skipped",
                        slice.metadata.name.as_deref().unwrap_or("")
                    ),
                ));
                continue;
            }
            let Some(port) = slice_port(slice, service_port) else {
                continue;
            };
            for endpoint in slice.endpoints.iter().flatten() {
                let ready = endpoint.conditions.as_ref().and_then(|c| c.ready) != Some(false);
                if !ready {
                    continue;
                }
                for address in &endpoint.addresses {
                    match address.parse::<IpAddr>() {
                        Ok(ip) => endpoints.push(SocketAddr::new(ip, port)),
                        Err(_) => notes.push((
                            Severity::Warning,
                            format!("EndpointSlice for {namespace}/{name}: invalid address {address:?}: skipped"),
                        )),
                    }
                }
            }
        }
        endpoints.sort_unstable();
        endpoints.dedup();
        if endpoints.is_empty() {
            notes.push((
                Severity::Info,
                format!(
                    "Service {namespace}/{name} port {} has no ready endpoints: its routes answer 503",
                    service_port.port
                ),
            ));
        }
        (endpoints, notes)
    }
}

/// The port number to use for `service_port` in one EndpointSlice, if it has one.
fn slice_port(slice: &EndpointSlice, service_port: &ServicePort) -> Option<u16> {
    let target_number = match &service_port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(s)) => s.parse().ok(),
        None => Some(service_port.port),
    };
    let ports = slice.ports.as_deref().unwrap_or_default();
    if ports.is_empty() {
        // Hand-written slice without ports: only a numeric target can be used.
        return target_number.and_then(|n| u16::try_from(n).ok());
    }
    let wanted_name = service_port.name.as_deref().unwrap_or("");
    let mut candidates = ports
        .iter()
        .filter(|p| p.name.as_deref().unwrap_or("") == wanted_name)
        .filter(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"));
    let first = candidates.next()?;
    let chosen = if wanted_name.is_empty() {
        std::iter::once(first)
            .chain(candidates)
            .find(|p| p.port == target_number)
            .unwrap_or(first)
    } else {
        first
    };
    chosen.port.and_then(|n| u16::try_from(n).ok())
}
