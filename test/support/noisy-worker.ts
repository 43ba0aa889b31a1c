/** A worker command for the demo image that prints a line with ANSI colour codes and HTML in it, three times a second. */
const NOISY_LINE = "\\u001b[31mred alert\\u001b[0m <script>window.pwned=1</script> & <b>bold</b>";
export const noisyWorker = ["node", "-e", JSON.stringify(`setInterval(() => console.log("${NOISY_LINE}"), 300)`)];
