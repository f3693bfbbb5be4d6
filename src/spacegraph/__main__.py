from spacegraph.cli import main

main()
