use super::*;

#[test]
fn slice_names_stay_short_and_keep_their_parts() {
    let long = "é".repeat(300);
    let n = slice_file_name("cam-01", &long, 1_000_042);
    assert!(n.len() <= 200, "{}", n.len());
    assert!(
        n.starts_with("cam-01_éé") && n.ends_with("_1000042.pcap"),
        "{n}"
    );
    assert_eq!(slice_file_name("a b", "on/off", 7), "a_b_on_off_7.pcap");
}

#[test]
fn community_id_published_vectors() {
    let a: std::net::IpAddr = "1.2.3.4".parse().unwrap();
    let b: std::net::IpAddr = "5.6.7.8".parse().unwrap();
    assert_eq!(
        community_id(a, b, 1122, 3344, 6, 0),
        "1:wCb3OG7yAFWelaUydu0D+125CLM="
    );
    assert_eq!(
        community_id(b, a, 3344, 1122, 6, 0),
        "1:wCb3OG7yAFWelaUydu0D+125CLM="
    );
    assert_eq!(
        community_id(a, b, 1122, 3344, 17, 0),
        "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
    );
    assert_eq!(
        community_id(a, b, 1122, 3344, 6, 1),
        "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="
    );
    assert_eq!(
        community_id(a, b, 8, 0, 1, 0),
        "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
    );
    assert_eq!(
        community_id(b, a, 0, 0, 1, 0),
        "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
    );
    let c: std::net::IpAddr = "fe80:1:203:405:607:809:a0b:c0d".parse().unwrap();
    let d: std::net::IpAddr = "fe80:1011:1213:1415:1617:1819:1a1b:1c1d".parse().unwrap();
    assert_eq!(
        community_id(c, d, 128, 0, 58, 0),
        "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="
    );
}
