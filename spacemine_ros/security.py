"""DDS security (SROS2) for a rig: one enclave per node and a policy read off the live graph.

On a real ROS install with Fast DDS's security plugins, a rig started with a keystore
(`ros2 launch spacemine_ros rig.launch.py keystore:=DIR`, `spacemine-rig --processes
--keystore DIR`) runs each node in its own enclave, `/<namespace>/<node>`, with
ROS_SECURITY_ENABLE=true and ROS_SECURITY_STRATEGY=Enforce, so a process without the
rig's keys cannot join its domain, and each node may use only what its permissions
grant. The policy those permissions are made from is read off the rig itself:

    spacemine-keys sros2-policy --namespace rig1 > rig1.policy.xml   # the rig running
    ros2 security create_keystore DIR
    ros2 security create_enclave DIR /rig1/drill                     # one per node
    ros2 security create_permission DIR /rig1/drill rig1.policy.xml  # one per node

The nodes are those bringup makes from the rig file for the backend; each one's
publications, subscriptions, services, clients, action servers and action clients, as
the ROS graph shows them, become its profile (SROS2 policy format 0.2.0). The rig's own
nodes are the only callers of the controllers' actions and services (the supervisor),
so on such a rig an intruder can neither send a tool goal nor reset a tool.
"""

import time
import xml.etree.ElementTree as ElementTree

POLICY_VERSION = '0.2.0'
ACTION_INFIX = '/_action/'
SECURITY_STRATEGY = 'Enforce'


def enclave(namespace, node):
    """Return a node's enclave: /<namespace>/<node> ('/<node>' at the root)."""
    namespace = namespace.strip().strip('/')
    return f'/{namespace}/{node}' if namespace else f'/{node}'


def security_environment(keystore):
    """Return the environment that makes a node use the keystore (empty: none given)."""
    if not keystore:
        return {}
    return {'ROS_SECURITY_KEYSTORE': keystore, 'ROS_SECURITY_ENABLE': 'true',
            'ROS_SECURITY_STRATEGY': SECURITY_STRATEGY}


def check_keystore(keystore, namespace, names):
    """Refuse (ValueError, one line) a keystore that lacks the rig's enclaves."""
    import os
    if not os.path.isdir(os.path.join(keystore, 'enclaves')):
        raise ValueError(f'keystore {keystore}: not an SROS2 keystore (no enclaves/; '
                         'ros2 security create_keystore makes one)')
    missing = [enclave(namespace, name) for name in names
               if not os.path.isdir(os.path.join(keystore, 'enclaves',
                                                 *enclave(namespace, name).strip('/').split('/')))]
    if missing:
        raise ValueError(f'keystore {keystore}: no enclave {", ".join(missing)} '
                         '(ros2 security create_enclave, docs/operations.md)')


def node_interfaces(observer, name, namespace):
    """Return {kind: sorted names} of a node as the ROS graph shows it now.

    kind: publish, subscribe (topics), reply, request (services), execute, call
    (actions). An action's hidden topics and services are folded into the action.
    """
    from rclpy.action import graph as action_graph

    def names(listing):
        return sorted({topic for topic, _ in listing if ACTION_INFIX not in topic})

    return {
        'publish': names(observer.get_publisher_names_and_types_by_node(name, namespace)),
        'subscribe': names(observer.get_subscriber_names_and_types_by_node(name, namespace)),
        'reply': names(observer.get_service_names_and_types_by_node(name, namespace)),
        'request': names(observer.get_client_names_and_types_by_node(name, namespace)),
        'execute': names(action_graph.get_action_server_names_and_types_by_node(
            observer, name, namespace)),
        'call': names(action_graph.get_action_client_names_and_types_by_node(
            observer, name, namespace)),
    }


def rig_interfaces(observer, names, namespace, timeout=30.0, settle=2.0):
    """Wait until every named node is on the graph; return {node: node_interfaces}.

    The graph is read again until it holds still for `settle` wall seconds (discovery
    brings a node's endpoints one by one). RuntimeError naming the missing nodes after
    `timeout` wall seconds.
    """
    import rclpy

    namespace = '/' + namespace.strip().strip('/')
    deadline = time.monotonic() + timeout
    last, steady_since = None, time.monotonic()
    while True:
        rclpy.spin_once(observer, timeout_sec=0.1)
        present = {name for name, ns in observer.get_node_names_and_namespaces()
                   if ns == namespace}
        missing = sorted(set(names) - present)
        now = time.monotonic()
        if not missing:
            seen = {name: node_interfaces(observer, name, namespace) for name in names}
            if seen != last:
                last, steady_since = seen, now
            elif now - steady_since >= settle:
                return seen
        if now > deadline:
            raise RuntimeError(f'nodes not on the graph in {namespace} after {timeout:g} s: '
                               f'{", ".join(missing) or "(the graph kept changing)"}')


KINDS = (('topics', 'topic', ('publish', 'subscribe')),
         ('services', 'service', ('reply', 'request')),
         ('actions', 'action', ('execute', 'call')))


# Every node's parameter services (rclpy makes them): each node answers its own; they are
# no controller's work, so the supervisor is not given them.
PARAMETER_SERVICES = ('describe_parameters', 'get_parameter_types', 'get_parameters',
                      'get_type_description', 'list_parameters', 'set_parameters',
                      'set_parameters_atomically')


def with_supervisor_calls(interfaces, controllers, supervisor='supervisor'):
    """Return the interfaces with the supervisor calling the controllers' actions, services.

    The supervisor makes its clients when a step first needs them, so an idle rig's graph
    does not show them yet.
    """
    merged = {name: {kind: list(names) for kind, names in kinds.items()}
              for name, kinds in interfaces.items()}
    if supervisor not in merged:
        return merged
    calls, requests = set(merged[supervisor]['call']), set(merged[supervisor]['request'])
    for controller in controllers:
        calls.update(interfaces[controller]['execute'])
        requests.update(service for service in interfaces[controller]['reply']
                        if service.rsplit('/', 1)[-1] not in PARAMETER_SERVICES)
    merged[supervisor]['call'], merged[supervisor]['request'] = sorted(calls), sorted(requests)
    return merged


def policy_xml(interfaces, namespace):
    """Return the SROS2 policy (text) of {node: node_interfaces}, an enclave per node."""
    root = ElementTree.Element('policy', version=POLICY_VERSION)
    enclaves = ElementTree.SubElement(root, 'enclaves')
    profile_ns = '/' + namespace.strip().strip('/')
    for name in sorted(interfaces):
        element = ElementTree.SubElement(enclaves, 'enclave', path=enclave(namespace, name))
        profiles = ElementTree.SubElement(element, 'profiles')
        profile = ElementTree.SubElement(profiles, 'profile', ns=profile_ns, node=name)
        for group, item, rules in KINDS:
            for rule in rules:
                names = interfaces[name][rule]
                if not names:
                    continue
                listing = ElementTree.SubElement(profile, group, {rule: 'ALLOW'})
                for full_name in names:  # absolute names: the graph gives them so
                    ElementTree.SubElement(listing, item).text = full_name
    ElementTree.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ElementTree.tostring(root, encoding='unicode') + '\n')


def granted(policy_text, rule, name):
    """Return the enclaves whose profile allows `rule` (e.g. call) on `name`."""
    root = ElementTree.fromstring(policy_text)
    group = {rule: group for group, _, rules in KINDS for rule in rules}[rule]
    return sorted(
        element.get('path') for element in root.iter('enclave')
        for listing in element.iter(group) if listing.get(rule) == 'ALLOW'
        and any(child.text == name for child in listing))
