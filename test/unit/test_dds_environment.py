"""The DDS transport the rig's processes use (spacemine_ros.domain)."""

from spacemine_ros.domain import claim_domain, dds_environment


def test_the_rig_talks_over_udp_unless_the_operator_chose_a_transport():
    assert dds_environment({}) == {'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4'}
    assert dds_environment({'FASTDDS_BUILTIN_TRANSPORTS': ' '}) == {
        'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4'}
    chosen = {'FASTDDS_BUILTIN_TRANSPORTS': 'SHM'}
    assert dds_environment(chosen) == chosen


def test_claiming_a_domain_sets_the_transport_for_the_processes_it_starts():
    environ = {'ROS_DOMAIN_ID': '200'}  # the operator's, outside the range: no lock taken
    assert claim_domain(environ) == (200, False)
    assert environ['FASTDDS_BUILTIN_TRANSPORTS'] == 'UDPv4'
    assert environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
