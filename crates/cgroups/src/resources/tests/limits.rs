// SPDX-License-Identifier: Apache-2.0
//! pids, block I/O, hugetlb, network and rdma.

use super::*;

#[test]
fn pids_zero_means_one_negative_is_max() {
    let f = Fake::v1(&["pids"]);
    f.files("pids", &["pids.max"]);
    f.m.apply(&res(r#"{"pids":{"limit":0}}"#)).unwrap();
    assert_eq!(f.writes("pids", "pids.max"), ["1"]);
    f.m.apply(&res(r#"{"pids":{"limit":-1}}"#)).unwrap();
    f.m.update(&res(r#"{"pids":{"limit":1024}}"#)).unwrap();
    assert_eq!(f.writes("pids", "pids.max"), ["1", "max", "1024"]);
}

#[test]
fn blkio_v1_falls_back_to_bfq_and_writes_throttles() {
    let f = Fake::v1(&["blkio"]);
    f.files(
        "blkio",
        &[
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_iops_device",
        ],
    );
    let w = f.m.apply(&res(r#"{"blockIO":{"weight":300,"leafWeight":200,
        "weightDevice":[{"major":8,"minor":0,"weight":500}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576},{"major":8,"minor":16,"rate":0}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]}}"#)).unwrap();
    assert_eq!(f.writes("blkio", "blkio.bfq.weight"), ["300"]);
    assert_eq!(f.writes("blkio", "blkio.bfq.weight_device"), ["8:0 500"]);
    assert_eq!(
        f.writes("blkio", "blkio.throttle.read_bps_device"),
        ["8:0 1048576", "8:16 0"]
    );
    assert_eq!(
        f.writes("blkio", "blkio.throttle.write_iops_device"),
        ["8:0 100"]
    );
    assert_eq!(
        w,
        [Warning::Ignored {
            what: "blockIO.leafWeight",
            why: "needs the CFQ I/O scheduler"
        }]
    );
}

#[test]
fn io_v2_converts_weights_and_writes_io_max() {
    let f = Fake::v2(&["io"]);
    f.files("unified", &["io.weight", "io.max"]);
    f.m.apply(&res(
        r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":1000}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}]}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "io.weight"), ["4950", "8:0 10000"]);
    assert_eq!(
        f.writes("unified", "io.max"),
        ["8:0 rbps=1048576", "8:0 wbps=max"]
    );
}

#[test]
fn hugetlb_file_names_per_version() {
    let f = Fake::v1(&["hugetlb"]);
    f.files(
        "hugetlb",
        &[
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ],
    );
    f.m.apply(&res(
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
    ))
    .unwrap();
    assert_eq!(
        f.writes("hugetlb", "hugetlb.2MB.limit_in_bytes"),
        ["4194304"]
    );
    assert_eq!(
        f.writes("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"),
        ["4194304"]
    );
    let err =
        f.m.apply(&res(
            r#"{"hugepageLimits":[{"pageSize":"../2MB","limit":1}]}"#,
        ))
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid hugepage size \"../2MB\"");
    let f = Fake::v2(&["hugetlb"]);
    f.files("unified", &["hugetlb.1GB.max"]);
    f.m.apply(&res(
        r#"{"hugepageLimits":[{"pageSize":"1GB","limit":-1}]}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "hugetlb.1GB.max"), ["max"]);
}

#[test]
fn network_and_rdma() {
    let f = Fake::v1(&["net_cls,net_prio", "rdma"]);
    f.files(
        "net_cls,net_prio",
        &["net_cls.classid", "net_prio.ifpriomap"],
    );
    f.files("rdma", &["rdma.max"]);
    f.m.apply(&res(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},
        {"name":"lo","priority":2}]},"rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}}}"#))
        .unwrap();
    assert_eq!(f.writes("net_cls,net_prio", "net_cls.classid"), ["1048577"]);
    assert_eq!(
        f.writes("net_cls,net_prio", "net_prio.ifpriomap"),
        ["eth0 5", "lo 2"]
    );
    assert_eq!(
        f.writes("rdma", "rdma.max"),
        ["mlx4_0 hca_handle=2 hca_object=2000", "mlx5_1 hca_handle=3"]
    );
    let bad = f.m.apply(&res(
        r#"{"network":{"priorities":[{"name":"eth0 9\nlo","priority":1}]}}"#,
    ));
    assert!(bad.is_err());
    // Not mounted (v2 has no net_cls): a warning, not an error.
    let f = Fake::v2(&["memory"]);
    let w = f.m.apply(&res(r#"{"network":{"classID":1}}"#)).unwrap();
    assert_eq!(
        w[0].to_string(),
        "ignoring network.classID: the net_cls controller is not available"
    );
}
