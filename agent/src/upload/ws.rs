pub async fn session(
    _config: &super::UploadConfig,
    _outbox: &crate::outbox::Outbox,
    _stats: &super::UploadStats,
) -> Result<(), super::UploadError> {
    todo!()
}
