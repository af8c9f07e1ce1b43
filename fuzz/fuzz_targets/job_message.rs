//! `/sharenet/job/1` requests and replies (`node/src/jobs/wire.rs`). Requests are canonical:
//! whatever decodes re-encodes to the same bytes. A reply's reason is read leniently (lossy
//! UTF-8), so a reply round-trips exactly when its reason is UTF-8, and otherwise re-decodes to
//! what it decoded to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharenet_node::jobs::wire::{JobReply, JobRequest, MAX_JOB_REQUEST, MAX_LIVE};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = JobRequest::decode(data) {
        assert!(data.len() <= MAX_JOB_REQUEST);
        if let JobRequest::Start { live, .. } = &request {
            assert!(live.len() <= MAX_LIVE);
        }
        assert_eq!(
            request.encode(),
            data,
            "a request re-encodes to other bytes"
        );
    }
    if let Ok(reply) = JobReply::decode(data) {
        let encoded = reply.encode();
        let utf8 = data
            .get(6..)
            .is_some_and(|r| std::str::from_utf8(r).is_ok());
        if utf8 {
            assert_eq!(encoded, data, "a reply re-encodes to other bytes");
        }
        let again = JobReply::decode(&encoded);
        match (&reply, &again) {
            (JobReply::Refused(a), Ok(JobReply::Refused(b)))
            | (JobReply::Busy(a), Ok(JobReply::Busy(b))) => {
                // A lossy reason longer than the limit is cut on a character boundary.
                assert!(a.starts_with(b.as_str()), "{a:?} / {b:?}");
            }
            (a, Ok(b)) => assert_eq!(a, b),
            (_, Err(e)) => panic!("a decoded reply re-encodes to an undecodable one: {e}"),
        }
    }
});
