from tools.manifests import main

main()
