//! Host ports: a pod cannot bind a host port another pod on the node already holds.

use caldera_framework::{NodeInfo, TaskSpec};

/// Whether any host port the pod asks for collides with one in use on the node.
///
/// Port 0 means "no host port" in a container spec, so it never collides.
pub(super) fn conflict(spec: &TaskSpec, node: &NodeInfo) -> bool {
    spec.host_ports
        .iter()
        .filter(|p| p.port > 0)
        .any(|p| node.used_ports.iter().any(|used| p.conflicts(used)))
}

#[cfg(test)]
mod tests {
    use caldera_framework::{HostPort, TaskSpec};

    use super::super::testutil::*;
    use super::super::*;

    fn ports(list: &[(&str, &str, i32)]) -> TaskSpec {
        TaskSpec {
            host_ports: list
                .iter()
                .map(|(proto, ip, port)| HostPort {
                    protocol: proto.to_string(),
                    ip: ip.to_string(),
                    port: *port,
                })
                .collect(),
            ..TaskSpec::default()
        }
    }

    fn fixture(incoming: TaskSpec) -> Fixture {
        Fixture::new(
            vec![node("busy", &[]), node("free", &[])],
            vec![
                running("web", "busy", &[], ports(&[("TCP", "", 8080), ("UDP", "10.0.0.1", 53)])),
                pending("p", incoming),
            ],
        )
    }

    #[test]
    fn conflicting_host_port_is_rejected() {
        let f = fixture(ports(&[("TCP", "0.0.0.0", 8080)]));
        assert_eq!(f.check("p", "busy"), Err(NODE_PORTS_CONFLICT.to_string()));
        assert_eq!(f.check("p", "free"), Ok(()));
    }

    #[test]
    fn distinct_protocol_address_or_port_coexist() {
        assert_eq!(fixture(ports(&[("UDP", "", 8080)])).check("p", "busy"), Ok(()));
        assert_eq!(fixture(ports(&[("UDP", "10.0.0.2", 53)])).check("p", "busy"), Ok(()));
        assert_eq!(fixture(ports(&[("TCP", "", 8081)])).check("p", "busy"), Ok(()));
        assert_eq!(
            fixture(ports(&[("UDP", "", 53)])).check("p", "busy"),
            Err(NODE_PORTS_CONFLICT.to_string())
        );
    }

    #[test]
    fn switch_turns_the_port_filter_off() {
        let f = fixture(ports(&[("TCP", "", 8080)]));
        let off = Fixture::with_args(f.snapshot, &args(&[("predicate.NodePortsEnable", "false")]));
        assert_eq!(off.check("p", "busy"), Ok(()));
    }
}
