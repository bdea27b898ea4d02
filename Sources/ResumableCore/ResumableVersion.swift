/// The version of this build of Resumable: reported by `Health` and `resumable --version`.
public enum ResumableVersion {
  public static let current = "0.5.0"
}
